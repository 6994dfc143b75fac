// Weight standardisation (ALGORITHM.md §4), per output channel, written once for both
// backends (see kernels/host_device.h): the float32 formulas of one element, and the
// channel's constants formed from its double sums. How the sums are taken is the
// backend's (kernels/cpu/weight_std.cc: 16 lanes in a fixed order; kernels/cuda/
// weight_std.cu: a block reduction); the elementwise templates take a float or one of
// the CPU's vector types, lane by lane the same operations.
#ifndef EDBP_KERNELS_WEIGHT_STD_MATH_H_
#define EDBP_KERNELS_WEIGHT_STD_MATH_H_

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace edbp::kernels {

// §4's ε under the square root.
inline constexpr float kWeightStdEpsilon = 1e-5f;

// A channel's statistics: the mean, var = (unbiased std)² with the std rounded to
// float32 first (as the reference), and the forward's denominator √(var + ε).
struct WeightStdChannel {
  float mean, var, denom;
};

// From mean_d = Σw/M and sq = Σ(w - mean_d)² over the channel's M weights.
EDBP_HOST_DEVICE inline WeightStdChannel WeightStdChannelOf(double mean_d, double sq,
                                                            int64_t m) {
  const float std_f = static_cast<float>(sqrt(sq / static_cast<double>(m - 1)));
  const float var = std_f * std_f;
  return {static_cast<float>(mean_d), var, sqrtf(var + kWeightStdEpsilon)};
}

// Forward: Ŵ = (w - μ)/√(var + ε)·g + b.
template <typename F>
EDBP_HOST_DEVICE_INLINE F WeightStdForwardOf(F w, const WeightStdChannel& c, float g,
                                             float b) {
  return (w - c.mean) / c.denom * g + b;
}

// The backward's 1/√(var + ε) from the var the forward stored.
EDBP_HOST_DEVICE inline float WeightStdInvStd(float var) {
  return 1.0f / sqrtf(var + kWeightStdEpsilon);
}

// Ŵ as the backward recomputes it, (w - μ)·r·g + b with r = 1/√(var + ε); grad·Ŵ is the
// element's term of dL/dg in the reference's formulas.
template <typename F>
EDBP_HOST_DEVICE_INLINE F WeightStdGradGTermOf(F grad, F w, float mean, float std_inv,
                                               float g, float b) {
  return grad * ((w - mean) * std_inv * g + b);
}

// The reference's backward for dL/dw, elementwise (not summed over the channel).
struct WeightStdReferenceConsts {
  float mean, g, std_inv, std_inv3, m_f;
};

EDBP_HOST_DEVICE inline WeightStdReferenceConsts MakeWeightStdReferenceConsts(
    float mean, float g, float std_inv, int64_t m) {
  return {mean, g, std_inv, std_inv * std_inv * std_inv, static_cast<float>(m)};
}

template <typename F>
EDBP_HOST_DEVICE_INLINE F WeightStdReferenceGradWOf(F grad, F w,
                                                    const WeightStdReferenceConsts& k) {
  const F gp = grad * k.g;
  const F centred = w - k.mean;
  const F grad_var = gp * centred / k.m_f * (-0.5f) * k.std_inv3;
  const F grad_mean = -gp * k.std_inv;
  return gp * k.std_inv + grad_var * 2.0f * centred / k.m_f + grad_mean / k.m_f;
}

// The true gradient of Ŵ = (w-μ)·r·g + b with σ² unbiased (divide by M-1):
// dL/dw_i = g·r·(G_i - mean(G)) - g·r³·(w_i-μ)/(M-1)·Σ_j G_j (w_j-μ), in double, from
// sum_g = Σ G_j and dot = Σ G_j (w_j - μ).
struct WeightStdExactConsts {
  double g_r, mean_grad, coef;
  float mean;
};

EDBP_HOST_DEVICE inline WeightStdExactConsts MakeWeightStdExactConsts(
    float mean, float g, float std_inv, double sum_g, double dot, int64_t m) {
  const double r = std_inv;
  return {g * r, sum_g / static_cast<double>(m),
          g * r * r * r * dot / static_cast<double>(m - 1), mean};
}

EDBP_HOST_DEVICE inline float WeightStdExactGradWOf(float grad, float w,
                                                    const WeightStdExactConsts& k) {
  return static_cast<float>(k.g_r * (grad - k.mean_grad) - k.coef * (w - k.mean));
}

// The exact dL/dg: Σ G_j (w_j - μ)·r.
EDBP_HOST_DEVICE inline double WeightStdExactGradG(double dot, float std_inv) {
  return dot * std_inv;
}

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_WEIGHT_STD_MATH_H_

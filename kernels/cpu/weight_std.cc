// Weight standardisation forward and backward (ALGORITHM.md §4), per output channel.
//
// The channel sums run in float64 over 16 lanes (two 8-wide accumulators, then the lanes
// in order, then the scalar tail), so their order is fixed by the fan-in alone; the
// elementwise float32 formulas are those of §4, lane by lane.
#include <cmath>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace edbp::kernels::cpu {
namespace {

using simd::kLanes;
using simd::Load;
using simd::LoadAsDouble;
using simd::Store;
using simd::VecD;
using simd::VecF;

// Σ_j f(j) in float64 for j < m, where vec(j) gives lanes j..j+7 of f as a VecD and
// scalar(j) gives f(j).
template <typename Vec, typename Scalar>
EDBP_INLINE double SumD(int64_t m, Vec vec, Scalar scalar) {
  VecD a0{}, a1{};
  int64_t j = 0;
  for (; j + kLanes <= m; j += kLanes) {
    a0 += vec(j);
    a1 += vec(j + 8);
  }
  double sum = simd::LaneSum(a0) + simd::LaneSum(a1);
  for (; j < m; ++j) sum += scalar(j);
  return sum;
}

EDBP_CPU_CLONES
void ForwardChannels(const WeightStdForwardArgs& a, int64_t begin, int64_t end) {
  const int64_t m = a.m;
  for (int64_t c = begin; c < end; ++c) {
    const float* w = a.w + c * m;
    const double mean_d = SumD(
                              m, [w](int64_t j) { return LoadAsDouble(w + j); },
                              [w](int64_t j) { return static_cast<double>(w[j]); }) /
                          static_cast<double>(m);
    const double sq = SumD(
        m,
        [w, mean_d](int64_t j) {
          const VecD d = LoadAsDouble(w + j) - mean_d;
          return d * d;
        },
        [w, mean_d](int64_t j) {
          const double d = w[j] - mean_d;
          return d * d;
        });
    // §4: var = (unbiased std)², the std rounded to float32 first, as the reference.
    const float std_f = static_cast<float>(std::sqrt(sq / static_cast<double>(m - 1)));
    const float mean = static_cast<float>(mean_d);
    const float var = std_f * std_f;
    const float denom = std::sqrt(var + 1e-5f);
    const float g = a.g[c];
    const float b = a.b[c];
    float* w_hat = a.w_hat + c * m;
    int64_t j = 0;
    for (; j + kLanes <= m; j += kLanes) {
      Store(w_hat + j, (Load(w + j) - mean) / denom * g + b);
    }
    for (; j < m; ++j) w_hat[j] = (w[j] - mean) / denom * g + b;
    a.mean[c] = mean;
    a.var[c] = var;
  }
}

EDBP_CPU_CLONES
void BackwardChannels(const WeightStdBackwardArgs& a, int64_t begin, int64_t end) {
  const int64_t m = a.m;
  const float m_f = static_cast<float>(m);
  for (int64_t c = begin; c < end; ++c) {
    const float* grad = a.grad_w_hat + c * m;
    const float* w = a.w + c * m;
    float* grad_w = a.grad_w + c * m;
    const float mean = a.mean[c];
    const float g = a.g[c];
    const float b = a.b[c];
    const float std_inv = 1.0f / std::sqrt(a.var[c] + 1e-5f);
    const double sum_g = SumD(
        m, [grad](int64_t j) { return LoadAsDouble(grad + j); },
        [grad](int64_t j) { return static_cast<double>(grad[j]); });
    double sum_gw = 0;
    if (!a.exact) {
      // §4 reference formulas: elementwise, not summed over the channel.
      // Σ grad · Ŵ with Ŵ = (w - μ)·r·g + b recomputed, the product in float32.
      sum_gw = SumD(
          m,
          [&](int64_t j) {
            return simd::ToDouble(simd::Load8(grad + j) *
                                  ((simd::Load8(w + j) - mean) * std_inv * g + b));
          },
          [&](int64_t j) {
            return static_cast<double>(grad[j] * ((w[j] - mean) * std_inv * g + b));
          });
      const float std_inv3 = std_inv * std_inv * std_inv;
      int64_t j = 0;
      for (; j + kLanes <= m; j += kLanes) {
        const VecF gp = Load(grad + j) * g;
        const VecF centred = Load(w + j) - mean;
        const VecF grad_var = gp * centred / m_f * (-0.5f) * std_inv3;
        const VecF grad_mean = -gp * std_inv;
        Store(grad_w + j,
              gp * std_inv + grad_var * 2.0f * centred / m_f + grad_mean / m_f);
      }
      for (; j < m; ++j) {
        const float gp = grad[j] * g;
        const float centred = w[j] - mean;
        const float grad_var = gp * centred / m_f * (-0.5f) * std_inv3;
        const float grad_mean = -gp * std_inv;
        grad_w[j] = gp * std_inv + grad_var * 2.0f * centred / m_f + grad_mean / m_f;
      }
    } else {
      // True gradient of Ŵ = (w-μ)·r·g + b with σ² unbiased (divide by M-1):
      // dL/dw_i = g·r·(G_i - mean(G)) - g·r³·(w_i-μ)/(M-1)·Σ_j G_j (w_j-μ).
      const double dot = SumD(
          m,
          [&](int64_t j) {
            return LoadAsDouble(grad + j) * simd::ToDouble(simd::Load8(w + j) - mean);
          },
          [&](int64_t j) { return static_cast<double>(grad[j]) * (w[j] - mean); });
      sum_gw = dot * std_inv;  // ∂Ŵ/∂g = (w-μ)·r
      const double r = std_inv;
      const double mean_grad = sum_g / static_cast<double>(m);
      const double coef = g * r * r * r * dot / static_cast<double>(m - 1);
      for (int64_t j = 0; j < m; ++j) {
        grad_w[j] =
            static_cast<float>(g * r * (grad[j] - mean_grad) - coef * (w[j] - mean));
      }
    }
    a.grad_b[c] = static_cast<float>(sum_g);
    a.grad_g[c] = static_cast<float>(sum_gw);
  }
}

}  // namespace

void WeightStdForward(const WeightStdForwardArgs& a) {
  EDBP_CHECK(a.c_out >= 1 && a.m >= 2) << "weight standardisation needs fan-in >= 2";
  ParallelFor(a.c_out, 1,
              [&](int64_t begin, int64_t end) { ForwardChannels(a, begin, end); });
}

void WeightStdBackward(const WeightStdBackwardArgs& a) {
  EDBP_CHECK(a.c_out >= 1 && a.m >= 2);
  ParallelFor(a.c_out, 1,
              [&](int64_t begin, int64_t end) { BackwardChannels(a, begin, end); });
}

}  // namespace edbp::kernels::cpu

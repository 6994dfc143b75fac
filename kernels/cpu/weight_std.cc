// Weight standardisation forward and backward (ALGORITHM.md §4), per output channel.
//
// The channel sums run in float64 over 16 lanes (two 8-wide accumulators, then the lanes
// in order, then the scalar tail), so their order is fixed by the fan-in alone; the
// elementwise float32 formulas are those of §4 in kernels/weight_std_math.h (the CUDA
// backend's too), lane by lane.
#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/weight_std_math.h"

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
    const WeightStdChannel channel = WeightStdChannelOf(mean_d, sq, m);
    const float g = a.g[c];
    const float b = a.b[c];
    float* w_hat = a.w_hat + c * m;
    int64_t j = 0;
    for (; j + kLanes <= m; j += kLanes) {
      Store(w_hat + j, WeightStdForwardOf(Load(w + j), channel, g, b));
    }
    for (; j < m; ++j) w_hat[j] = WeightStdForwardOf(w[j], channel, g, b);
    a.mean[c] = channel.mean;
    a.var[c] = channel.var;
  }
}

EDBP_CPU_CLONES
void BackwardChannels(const WeightStdBackwardArgs& a, int64_t begin, int64_t end) {
  const int64_t m = a.m;
  for (int64_t c = begin; c < end; ++c) {
    const float* grad = a.grad_w_hat + c * m;
    const float* w = a.w + c * m;
    float* grad_w = a.grad_w + c * m;
    const float mean = a.mean[c];
    const float g = a.g[c];
    const float b = a.b[c];
    const float std_inv = WeightStdInvStd(a.var[c]);
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
            return simd::ToDouble(WeightStdGradGTermOf(
                simd::Load8(grad + j), simd::Load8(w + j), mean, std_inv, g, b));
          },
          [&](int64_t j) {
            return static_cast<double>(
                WeightStdGradGTermOf(grad[j], w[j], mean, std_inv, g, b));
          });
      const WeightStdReferenceConsts k =
          MakeWeightStdReferenceConsts(mean, g, std_inv, m);
      int64_t j = 0;
      for (; j + kLanes <= m; j += kLanes) {
        Store(grad_w + j, WeightStdReferenceGradWOf(Load(grad + j), Load(w + j), k));
      }
      for (; j < m; ++j) grad_w[j] = WeightStdReferenceGradWOf(grad[j], w[j], k);
    } else {
      // The true gradient (weight_std_math.h).
      const double dot = SumD(
          m,
          [&](int64_t j) {
            return LoadAsDouble(grad + j) * simd::ToDouble(simd::Load8(w + j) - mean);
          },
          [&](int64_t j) { return static_cast<double>(grad[j]) * (w[j] - mean); });
      sum_gw = WeightStdExactGradG(dot, std_inv);
      const WeightStdExactConsts k =
          MakeWeightStdExactConsts(mean, g, std_inv, sum_g, dot, m);
      for (int64_t j = 0; j < m; ++j) grad_w[j] = WeightStdExactGradWOf(grad[j], w[j], k);
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

// Weight standardisation forward and backward (ALGORITHM.md §4), per output channel.
//
// The channel sums run in float64 over 16 lanes (SumD: the lanes in two halves in order,
// then the scalar tail), so their order is fixed by the fan-in alone; the
// elementwise float32 formulas are those of §4 in kernels/weight_std_math.h (the CUDA
// backend's too), lane by lane.
#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/weight_std_math.h"

namespace edbp::kernels::cpu {
namespace {

// Σ_j f(j) in float64 for j < m as 16 lanes (lane l adds f(j + l) for j = 0, 16, ...),
// then lanes 0-7 in order plus lanes 8-15 in order, then the scalar tail f(j) in order;
// vec(j) gives f(j .. j + kLanesOf<D>) as a native double vector D (as many per 16
// lanes as the level needs; the order of the sums is the same at every level).
template <typename D, typename Vec, typename Scalar>
EDBP_INLINE double SumD(int64_t m, Vec vec, Scalar scalar) {
  constexpr int kL = simd::kLanesOf<D>;
  constexpr int kN = 16 / kL;
  D acc[kN];
#pragma GCC unroll 8
  for (int i = 0; i < kN; ++i) acc[i] = D{};
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
#pragma GCC unroll 8
    for (int i = 0; i < kN; ++i) acc[i] += vec(j + i * kL);
  }
  double sum = simd::SumLanes16(acc);
  for (; j < m; ++j) sum += scalar(j);
  return sum;
}

template <CpuIsa kIsa>
EDBP_INLINE void ForwardChannelsImpl(const WeightStdForwardArgs& a, int64_t begin,
                                     int64_t end) {
  using F = simd::NativeF<kIsa>;
  using D = simd::NativeD<kIsa>;
  using H = simd::NativeH<kIsa>;
  constexpr int kL = simd::kLanesOf<F>;
  const int64_t m = a.m;
  for (int64_t c = begin; c < end; ++c) {
    const float* w = a.w + c * m;
    const double mean_d =
        SumD<D>(
            m,
            [w](int64_t j) EDBP_LAMBDA_INLINE { return simd::LoadWidened<D, H>(w + j); },
            [w](int64_t j) { return static_cast<double>(w[j]); }) /
        static_cast<double>(m);
    const double sq = SumD<D>(
        m,
        [w, mean_d](int64_t j) EDBP_LAMBDA_INLINE {
          const D d = simd::LoadWidened<D, H>(w + j) - mean_d;
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
    for (; j + kL <= m; j += kL) {
      simd::StoreAs(w_hat + j, WeightStdForwardOf(simd::LoadAs<F>(w + j), channel, g, b));
    }
    for (; j < m; ++j) w_hat[j] = WeightStdForwardOf(w[j], channel, g, b);
    a.mean[c] = channel.mean;
    a.var[c] = channel.var;
  }
}
EDBP_CPU_DISPATCH(void, ForwardChannels,
                  (const WeightStdForwardArgs& a, int64_t begin, int64_t end),
                  (a, begin, end))

template <CpuIsa kIsa>
EDBP_INLINE void BackwardChannelsImpl(const WeightStdBackwardArgs& a, int64_t begin,
                                      int64_t end) {
  using F = simd::NativeF<kIsa>;
  using D = simd::NativeD<kIsa>;
  using H = simd::NativeH<kIsa>;
  constexpr int kL = simd::kLanesOf<F>;
  const int64_t m = a.m;
  for (int64_t c = begin; c < end; ++c) {
    const float* grad = a.grad_w_hat + c * m;
    const float* w = a.w + c * m;
    float* grad_w = a.grad_w + c * m;
    const float mean = a.mean[c];
    const float g = a.g[c];
    const float b = a.b[c];
    const float std_inv = WeightStdInvStd(a.var[c]);
    const double sum_g = SumD<D>(
        m,
        [grad](int64_t j)
            EDBP_LAMBDA_INLINE { return simd::LoadWidened<D, H>(grad + j); },
        [grad](int64_t j) { return static_cast<double>(grad[j]); });
    double sum_gw = 0;
    if (!a.exact) {
      // §4 reference formulas: elementwise, not summed over the channel.
      // Σ grad · Ŵ with Ŵ = (w - μ)·r·g + b recomputed, the product in float32.
      sum_gw = SumD<D>(
          m,
          [&](int64_t j) EDBP_LAMBDA_INLINE {
            return __builtin_convertvector(
                WeightStdGradGTermOf(simd::LoadAs<H>(grad + j), simd::LoadAs<H>(w + j),
                                     mean, std_inv, g, b),
                D);
          },
          [&](int64_t j) {
            return static_cast<double>(
                WeightStdGradGTermOf(grad[j], w[j], mean, std_inv, g, b));
          });
      const WeightStdReferenceConsts k =
          MakeWeightStdReferenceConsts(mean, g, std_inv, m);
      int64_t j = 0;
      for (; j + kL <= m; j += kL) {
        simd::StoreAs(grad_w + j, WeightStdReferenceGradWOf(simd::LoadAs<F>(grad + j),
                                                            simd::LoadAs<F>(w + j), k));
      }
      for (; j < m; ++j) grad_w[j] = WeightStdReferenceGradWOf(grad[j], w[j], k);
    } else {
      // The true gradient (weight_std_math.h).
      const double dot = SumD<D>(
          m,
          [&](int64_t j) EDBP_LAMBDA_INLINE {
            return simd::LoadWidened<D, H>(grad + j) *
                   __builtin_convertvector(simd::LoadAs<H>(w + j) - mean, D);
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
EDBP_CPU_DISPATCH(void, BackwardChannels,
                  (const WeightStdBackwardArgs& a, int64_t begin, int64_t end),
                  (a, begin, end))

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

// Neuron forward and backward on the CPU (ALGORITHM.md §2, §3): one independent
// recurrence per neuron, parallel over neurons.
//
// The [T, n] tensors are time-major, so neuron i's values are n apart. Each thread
// takes blocks of kLanes consecutive neurons and runs the time loop outside, doing the
// recurrence on a vector of kLanes neurons at once: every load and store is
// contiguous, and the divisions of §2/§3 run kLanes-wide. Vector lanes do exactly the
// scalar float operations in the same order (no FMA contraction: -ffp-contract=off,
// comparisons and selects are exact), so the results are bit-identical to the scalar
// recurrence of §2/§3; neurons past the last full block run the scalar code.
//
// The vector functions are compiled for AVX-512, AVX2 and baseline x86-64 (simd.h), each
// over its level's native vector (16, 8 or 4 neurons at once inside the blocks of
// kLanes); the lane math is the same IEEE float32 in every version.
#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/neuron_math.h"
#include "kernels/op_checks.h"

namespace edbp::kernels::cpu {
namespace {

using simd::kLanes;
using simd::VecI;

// Neurons per ParallelFor chunk at least (a multiple of kLanes).
constexpr int64_t kGrain = 4096;

// §2 for one neuron (the reference recurrence; also the tail after the vector blocks).
void ForwardScalar(const NeuronForwardArgs& a, const NeuronForwardConsts& c, int64_t i) {
  const int64_t n = a.n, in_stride = a.static_input ? 0 : n;
  NeuronForwardState state;
  float count = 0;
  for (int64_t t = 0; t < a.steps; ++t) {
    const int64_t idx = t * n + i;
    const NeuronForwardStep step =
        NeuronForwardStepOf(state, a.input[t * in_stride + i], c);
    if (a.du != nullptr) a.du[idx] = step.du;
    if (a.du_t != nullptr) a.du_t[idx] = step.du_t;
    a.o[idx] = step.spike ? 1.0f : 0.0f;
    count += step.spike ? 1.0f : 0.0f;
  }
  if (a.spike_count != nullptr) a.spike_count[i] = count;
}

// §2 for neurons [i0, i0 + L) with V a native vector of L lanes (simd::NativeF), lane
// by lane the same operations as ForwardScalar; du is stored when kStoreDu, du_t when
// kStoreDuT, the spike counts when kCount.
template <typename V, bool kStoreDu, bool kStoreDuT, bool kCount>
EDBP_INLINE void ForwardLanes(const NeuronForwardArgs& a, const NeuronForwardConsts& c,
                              int64_t begin, int64_t end) {
  using VI = decltype(V{} < V{});  // the lanes' comparison results
  const int64_t n = a.n, in_stride = a.static_input ? 0 : n;
  const V decay_m = V{} + c.decay_m, decay_s = V{} + c.decay_s, decay_g = V{} + c.decay_g,
          theta_s = V{} + c.theta_s, theta_diff = V{} + c.theta_diff,
          threshold = V{} + c.threshold;
  const V zero = V{}, one = V{} + 1.0f;
  for (int64_t i0 = begin; i0 < end; i0 += simd::kLanesOf<V>) {
    V m = zero, s = zero, g = zero, u_prev = zero, count = zero;
    for (int64_t t = 0; t < a.steps; ++t) {
      const int64_t idx = t * n + i0;
      const V in = simd::LoadAs<V>(a.input + t * in_stride + i0);
      m = (m + in) * decay_m;
      s = (s + in) * decay_s;
      g = (g + in) * decay_g;
      V u, du, du_t;
      if (c.leaky) {
        u = ((m - s) * theta_s) / theta_diff;
        du = u - u_prev;
        du_t = c.exponential ? g : du;
      } else {
        du_t = g;
        u = u_prev + g;
        du = g;
      }
      const VI spike = u >= threshold;
      if constexpr (kStoreDu) simd::StoreAs(a.du + idx, du);
      if constexpr (kStoreDuT) simd::StoreAs(a.du_t + idx, du_t);
      const V spikes = spike ? one : zero;
      simd::StoreAs(a.o + idx, spikes);
      if constexpr (kCount) count += spikes;
      u_prev = spike ? zero : u;
      m = spike ? zero : m;
      s = spike ? zero : s;
      g = spike ? zero : g;
    }
    if constexpr (kCount) simd::StoreAs(a.spike_count + i0, count);
  }
}

template <typename V, bool kCount>
EDBP_INLINE void ForwardBlocksOutputs(const NeuronForwardArgs& a,
                                      const NeuronForwardConsts& c, int64_t begin,
                                      int64_t end) {
  if (a.du_t != nullptr) {
    ForwardLanes<V, true, true, kCount>(a, c, begin, end);
  } else if (a.du != nullptr) {
    ForwardLanes<V, true, false, kCount>(a, c, begin, end);
  } else {
    ForwardLanes<V, false, false, kCount>(a, c, begin, end);
  }
}

template <CpuIsa kIsa>
EDBP_INLINE void ForwardBlocksImpl(const NeuronForwardArgs& a,
                                   const NeuronForwardConsts& c, int64_t begin,
                                   int64_t end) {
  if (a.spike_count != nullptr) {
    ForwardBlocksOutputs<simd::NativeF<kIsa>, true>(a, c, begin, end);
  } else {
    ForwardBlocksOutputs<simd::NativeF<kIsa>, false>(a, c, begin, end);
  }
}
EDBP_CPU_DISPATCH(void, ForwardBlocks,
                  (const NeuronForwardArgs& a, const NeuronForwardConsts& c,
                   int64_t begin, int64_t end),
                  (a, c, begin, end))

// §3 for one neuron.
void BackwardScalar(const NeuronBackwardArgs& a, int64_t i) {
  const int64_t n = a.n;
  const float lo_t = -a.max_dudt_inv;
  NeuronBackwardState state;
  float sum = 0;
  for (int64_t t = a.steps - 1; t >= 0; --t) {
    const int64_t idx = t * n + i;
    const float g = NeuronBackwardStepOf(
        state, a.o[idx] != 0.0f, a.e, a.du, a.du_t, idx, lo_t, a.steps, a.syn_a,
        a.partial_a, a.grad_in != nullptr ? a.grad_in + idx : nullptr);
    if (a.grad_w != nullptr) a.grad_w[idx] = g;
    sum += g;
  }
  if (a.grad_w_sum != nullptr) a.grad_w_sum[i] = sum;
}

// std::clamp(v, lo, hi) lane by lane: v < lo ? lo : (hi < v ? hi : v).
template <typename V>
EDBP_INLINE V Clamp(V v, V lo, V hi) {
  const V x = v < lo ? lo : v;
  return hi < x ? hi : x;
}

// §3 for neurons [i0, i0 + L) with V a native vector of L lanes (simd::NativeF), lane
// by lane the same operations as BackwardScalar; grad_in_ (and the du_t it needs) only
// when kGradIn, grad_w_ when kGradW, its sum over the steps when kSum.
template <typename V, bool kGradIn, bool kGradW, bool kSum>
EDBP_INLINE void BackwardLanes(const NeuronBackwardArgs& a, int64_t begin, int64_t end) {
  using VI = decltype(V{} < V{});  // the lanes' comparison results
  constexpr int kL = simd::kLanesOf<V>;
  const int64_t n = a.n;
  const V zero = V{}, minus_one = V{} - 1.0f, lo_w = V{} - 4.0f,
          lo_t = V{} + (-a.max_dudt_inv);
  // The kernel tables (T + 1 entries) as two vectors each when they fit in two.
  const bool tables_fit = a.steps + 1 <= 2 * kL;
  V syn_lo = zero, syn_hi = zero, partial_lo = zero, partial_hi = zero;
  if (tables_fit) {
    for (int64_t k = 0; k <= a.steps; ++k) {
      (k < kL ? syn_lo : syn_hi)[k % kL] = a.syn_a[k];
      (k < kL ? partial_lo : partial_hi)[k % kL] = a.partial_a[k];
    }
  }
  for (int64_t i0 = begin; i0 < end; i0 += kL) {
    VI spiked = VI{} != 0;  // all false
    V gw = zero, gt = zero, sum = zero;
    VI k = VI{};
    for (int64_t t = a.steps - 1; t >= 0; --t) {
      const int64_t idx = t * n + i0;
      const VI out = simd::LoadAs<V>(a.o + idx) != zero;
      spiked |= out;
      const V pu = Clamp(minus_one / simd::LoadAs<V>(a.du + idx), lo_w, zero);
      const V e = simd::LoadAs<V>(a.e + idx);
      gw = out ? e * pu : gw;
      if constexpr (kGradIn) {
        const V put = Clamp(minus_one / simd::LoadAs<V>(a.du_t + idx), lo_t, zero);
        gt = out ? e * put : gt;
      }
      const VI next = k + 1;
      const VI capped =
          next < static_cast<int>(a.steps) ? next : VI{} + static_cast<int>(a.steps);
      k = out ? VI{} : capped;
      V sa, pa;
#if defined(__GNUC__) && !defined(__clang__)
      if (tables_fit && a.steps < kL) {
        // k ≤ T < L: a lane permutation of the tables (one vpermps).
        sa = __builtin_shuffle(syn_lo, k);
        pa = __builtin_shuffle(partial_lo, k);
      } else if (tables_fit) {
        // k ≤ T < 2L: a two-source lane permutation (vpermt2ps on AVX-512, two vpermps
        // and a blend on AVX2).
        sa = __builtin_shuffle(syn_lo, syn_hi, k);
        pa = __builtin_shuffle(partial_lo, partial_hi, k);
      } else
#endif
      {
        for (int l = 0; l < kL; ++l) {
          sa[l] = a.syn_a[k[l]];
          pa[l] = a.partial_a[k[l]];
        }
      }
      const V g = spiked ? gw * sa : zero;
      if constexpr (kGradW) simd::StoreAs(a.grad_w + idx, g);
      if constexpr (kSum) sum += g;
      if constexpr (kGradIn) simd::StoreAs(a.grad_in + idx, spiked ? gt * pa : zero);
    }
    if constexpr (kSum) simd::StoreAs(a.grad_w_sum + i0, sum);
  }
}

template <typename V, bool kGradIn>
EDBP_INLINE void BackwardBlocksOutputs(const NeuronBackwardArgs& a, int64_t begin,
                                       int64_t end) {
  if (a.grad_w_sum == nullptr) {
    BackwardLanes<V, kGradIn, true, false>(a, begin, end);
  } else if (a.grad_w == nullptr) {
    BackwardLanes<V, kGradIn, false, true>(a, begin, end);
  } else {
    BackwardLanes<V, kGradIn, true, true>(a, begin, end);
  }
}

template <CpuIsa kIsa>
EDBP_INLINE void BackwardBlocksImpl(const NeuronBackwardArgs& a, int64_t begin,
                                    int64_t end) {
  if (a.grad_in != nullptr) {
    BackwardBlocksOutputs<simd::NativeF<kIsa>, true>(a, begin, end);
  } else {
    BackwardBlocksOutputs<simd::NativeF<kIsa>, false>(a, begin, end);
  }
}
EDBP_CPU_DISPATCH(void, BackwardBlocks,
                  (const NeuronBackwardArgs& a, int64_t begin, int64_t end),
                  (a, begin, end))

// Runs vector blocks over [0, full) and the scalar recurrence over [full, n), where
// full = n rounded down to kLanes; chunks are whole blocks.
template <typename VectorFn, typename ScalarFn>
void ForNeurons(int64_t n, VectorFn vector_fn, ScalarFn scalar_fn) {
  const int64_t blocks = n / kLanes;
  ParallelFor(blocks, kGrain / kLanes, [&](int64_t begin, int64_t end) {
    vector_fn(begin * kLanes, end * kLanes);
  });
  for (int64_t i = blocks * kLanes; i < n; ++i) scalar_fn(i);
}

}  // namespace

void NeuronForward(const NeuronForwardArgs& a) {
  CheckNeuronForwardArgs(a);
  const NeuronForwardConsts c = MakeNeuronForwardConsts(a.params);
  ForNeurons(
      a.n, [&](int64_t begin, int64_t end) { ForwardBlocks(a, c, begin, end); },
      [&](int64_t i) { ForwardScalar(a, c, i); });
}

void NeuronBackward(const NeuronBackwardArgs& a) {
  CheckNeuronBackwardArgs(a);
  // The step counter runs in int lanes.
  EDBP_CHECK(a.steps < (int64_t{1} << 30)) << "NeuronBackward: too many steps";
  ForNeurons(
      a.n, [&](int64_t begin, int64_t end) { BackwardBlocks(a, begin, end); },
      [&](int64_t i) { BackwardScalar(a, i); });
}

}  // namespace edbp::kernels::cpu

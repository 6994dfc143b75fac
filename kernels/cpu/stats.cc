// Reductions behind the per-layer training statistics.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace edbp::kernels::cpu {
namespace {

// Fixed-size blocks whose partials are combined in block order: the result does not
// depend on how ParallelFor splits the blocks.
constexpr int64_t kBlock = int64_t{1} << 14;

// Sum, sum of squares and largest |x| of x[lo, hi) in float64: 16 lanes (lane l adds
// x[i + l] for i = lo, lo + 16, ...), then lanes 0-7 in order plus lanes 8-15 in order,
// then the scalar tail. The lanes live in native double vectors D of the level, as many
// as make 16; the order of the sums is the same at every level. A NaN never becomes the
// maximum (as std::max).
template <CpuIsa kIsa>
EDBP_INLINE ReduceStatsResult ReduceBlockImpl(const float* x, int64_t lo, int64_t hi) {
  using D = simd::NativeD<kIsa>;
  constexpr int kL = simd::kLanesOf<D>;
  constexpr int kN = 16 / kL;
  D sum[kN], sq[kN], mx[kN];
#pragma GCC unroll 8
  for (int j = 0; j < kN; ++j) sum[j] = sq[j] = mx[j] = D{};
  int64_t i = lo;
  for (; i + 16 <= hi; i += 16) {
#pragma GCC unroll 8
    for (int j = 0; j < kN; ++j) {
      const D v = simd::LoadWidened<D, simd::NativeH<kIsa>>(x + i + j * kL);
      sum[j] += v;
      sq[j] += v * v;
      const D a = v < 0 ? -v : v;
      mx[j] = mx[j] < a ? a : mx[j];
    }
  }
  ReduceStatsResult r{simd::SumLanes16(sum), simd::SumLanes16(sq), 0};
  for (int l = 0; l < 16; ++l) r.max_abs = std::max(r.max_abs, mx[l / kL][l % kL]);
  for (; i < hi; ++i) {
    const double v = x[i];
    r.sum += v;
    r.sum_sq += v * v;
    r.max_abs = std::max(r.max_abs, std::fabs(v));
  }
  return r;
}
EDBP_CPU_DISPATCH(ReduceStatsResult, ReduceBlock,
                  (const float* x, int64_t lo, int64_t hi), (x, lo, hi))

}  // namespace

void ReduceStats(const ReduceStatsArgs& a) {
  EDBP_CHECK(a.n >= 0 && a.result != nullptr);
  const int64_t blocks = (a.n + kBlock - 1) / kBlock;
  std::vector<ReduceStatsResult> partial(blocks);
  ParallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t lo = blk * kBlock;
      partial[blk] = ReduceBlock(a.x, lo, std::min(a.n, lo + kBlock));
    }
  });
  ReduceStatsResult total;
  for (const ReduceStatsResult& p : partial) {
    total.sum += p.sum;
    total.sum_sq += p.sum_sq;
    total.max_abs = std::max(total.max_abs, p.max_abs);
  }
  *a.result = total;
}

void SpikeCount(const SpikeCountArgs& a) {
  EDBP_CHECK(a.rows >= 0 && a.neurons >= 0);
  // Parallel over neurons: each output is owned by one thread, rows summed in order.
  ParallelFor(a.neurons, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < a.rows; ++r) {
      const float* row = a.o + r * a.neurons;
      for (int64_t i = begin; i < end; ++i) a.counts[i] += row[i];
    }
  });
}

}  // namespace edbp::kernels::cpu

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

// Sum, sum of squares and largest |x| of x[lo, hi) in float64: 16 lanes, then the lanes
// in order, then the scalar tail. A NaN never becomes the maximum (as std::max).
EDBP_CPU_CLONES
ReduceStatsResult ReduceBlock(const float* x, int64_t lo, int64_t hi) {
  using simd::VecD;
  VecD sum0{}, sum1{}, sq0{}, sq1{}, mx0{}, mx1{};
  int64_t i = lo;
  for (; i + simd::kLanes <= hi; i += simd::kLanes) {
    const VecD v0 = simd::LoadAsDouble(x + i), v1 = simd::LoadAsDouble(x + i + 8);
    sum0 += v0;
    sum1 += v1;
    sq0 += v0 * v0;
    sq1 += v1 * v1;
    const VecD a0 = v0 < 0 ? -v0 : v0, a1 = v1 < 0 ? -v1 : v1;
    mx0 = mx0 < a0 ? a0 : mx0;
    mx1 = mx1 < a1 ? a1 : mx1;
  }
  ReduceStatsResult r{simd::LaneSum(sum0) + simd::LaneSum(sum1),
                      simd::LaneSum(sq0) + simd::LaneSum(sq1), 0};
  for (int l = 0; l < 8; ++l) r.max_abs = std::max({r.max_abs, mx0[l], mx1[l]});
  for (; i < hi; ++i) {
    const double v = x[i];
    r.sum += v;
    r.sum_sq += v * v;
    r.max_abs = std::max(r.max_abs, std::fabs(v));
  }
  return r;
}

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

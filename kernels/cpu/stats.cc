// Reductions behind the per-layer training statistics.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"

namespace edbp::kernels::cpu {
namespace {

// Fixed-size blocks whose partials are combined in block order: the result does not
// depend on how ParallelFor splits the blocks.
constexpr int64_t kBlock = int64_t{1} << 14;

}  // namespace

void ReduceStats(const ReduceStatsArgs& a) {
  EDBP_CHECK(a.n >= 0 && a.result != nullptr);
  const int64_t blocks = (a.n + kBlock - 1) / kBlock;
  std::vector<ReduceStatsResult> partial(blocks);
  ParallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t lo = blk * kBlock, hi = std::min(a.n, lo + kBlock);
      double sum = 0, sq = 0, mx = 0;
      for (int64_t i = lo; i < hi; ++i) {
        const double v = a.x[i];
        sum += v;
        sq += v * v;
        mx = std::max(mx, std::fabs(v));
      }
      partial[blk] = {sum, sq, mx};
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

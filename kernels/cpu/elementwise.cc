#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"

namespace edbp::kernels::cpu {
namespace {

// Elementwise loops below this many elements are not worth waking the pool for.
constexpr int64_t kGrain = int64_t{1} << 15;
// SumSquares adds fixed blocks of this size, then the block sums in order, so the
// result does not depend on the thread count.
constexpr int64_t kSumBlock = int64_t{1} << 14;

double BlockSumSquares(const float* x, int64_t n) {
  // Four independent accumulators in a fixed pattern: deterministic, and faster than
  // one serial chain. Each square of a float is exact in double.
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double v0 = x[i], v1 = x[i + 1], v2 = x[i + 2], v3 = x[i + 3];
    s0 += v0 * v0;
    s1 += v1 * v1;
    s2 += v2 * v2;
    s3 += v3 * v3;
  }
  for (; i < n; ++i) {
    const double v = x[i];
    s0 += v * v;
  }
  return (s0 + s1) + (s2 + s3);
}

}  // namespace

void Fill(const FillArgs& args) {
  EDBP_CHECK(args.n >= 0) << "Fill: n=" << args.n;
  const float value = args.value;
  float* out = args.out;
  ParallelFor(args.n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = value;
  });
}

void Scale(const ScaleArgs& args) {
  EDBP_CHECK(args.n >= 0) << "Scale: n=" << args.n;
  const float alpha = args.alpha;
  const float* x = args.x;
  float* out = args.out;
  ParallelFor(args.n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = alpha * x[i];
  });
}

void Mul(const MulArgs& args) {
  EDBP_CHECK(args.n >= 0) << "Mul: n=" << args.n;
  const float alpha = args.alpha;
  const float* a = args.a;
  const float* b = args.b;
  float* out = args.out;
  ParallelFor(args.n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = (a[i] * b[i]) * alpha;
  });
}

void Axpy(const AxpyArgs& args) {
  EDBP_CHECK(args.n >= 0) << "Axpy: n=" << args.n;
  const float alpha = args.alpha;
  const float* x = args.x;
  float* y = args.y;
  ParallelFor(args.n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] += alpha * x[i];
  });
}

void SumSquares(const SumSquaresArgs& args) {
  EDBP_CHECK(args.n >= 0) << "SumSquares: n=" << args.n;
  EDBP_CHECK(args.result != nullptr) << "SumSquares: null result";
  const int64_t n = args.n;
  const float* x = args.x;
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(static_cast<size_t>(blocks));
  ParallelFor(blocks, kGrain / kSumBlock, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * kSumBlock;
      partial[b] = BlockSumSquares(x + first, std::min(kSumBlock, n - first));
    }
  });
  double sum = 0;
  for (const double p : partial) sum += p;
  *args.result = sum;
}

void DropoutApply(const DropoutApplyArgs& args) {
  EDBP_CHECK(args.steps >= 0 && args.rows >= 0 && args.inner >= 0)
      << "DropoutApply: steps=" << args.steps << " rows=" << args.rows
      << " inner=" << args.inner;
  const int64_t rows = args.rows;
  const int64_t inner = args.inner;
  const float* mask = args.mask;
  const float* x = args.x;
  float* out = args.out;
  // One work item per (step, row): a run of `inner` values sharing one mask entry.
  const int64_t items = args.steps * rows;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
  ParallelFor(items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const float m = mask[item % rows];
      const float* src = x + item * inner;
      float* dst = out + item * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i] * m;
    }
  });
}

}  // namespace edbp::kernels::cpu

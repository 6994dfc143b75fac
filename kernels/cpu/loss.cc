// The three losses of ALGORITHM.md §8 on the CPU, over kernels/loss_math.h (the maths
// the CUDA backend runs too). Each (sample, class) column of o[T, B, C] is independent:
// the work is split over samples, each sample's loss is a double kept apart and the
// samples are added in order, so the result does not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/loss_math.h"
#include "kernels/op_checks.h"

namespace edbp::kernels::cpu {
namespace {

// Values touched per parallel chunk worth waking the pool for.
constexpr int64_t kGrainValues = int64_t{1} << 14;

int64_t SampleGrain(int64_t steps, int64_t classes) {
  return std::max<int64_t>(1, kGrainValues / std::max<int64_t>(1, steps * classes));
}

double SumInOrder(const std::vector<double>& partial) {
  double sum = 0;
  for (const double p : partial) sum += p;
  return sum;
}

}  // namespace

void CountLoss(const CountLossArgs& a) {
  CheckLossArgs("CountLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  std::vector<double> partial(static_cast<size_t>(a.batch));
  ParallelFor(a.batch, SampleGrain(a.steps, a.classes), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) partial[b] = CountLossSampleOf(a, b);
  });
  *a.loss = SumInOrder(partial);
}

void KernelLoss(const KernelLossArgs& a) {
  CheckLossArgs("KernelLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  EDBP_CHECK(a.tau_s > 0) << "KernelLoss: tau_s=" << a.tau_s;
  if (a.batch > 0) EDBP_CHECK(a.target != nullptr) << "KernelLoss: null target";
  const KernelLossConsts k = MakeKernelLossConsts(a.tau_s);
  std::vector<double> partial(static_cast<size_t>(a.batch));
  ParallelFor(a.batch, SampleGrain(a.steps, a.classes), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) partial[b] = KernelLossSampleOf(a, k, b);
  });
  *a.loss = SumInOrder(partial);
}

void TetLoss(const TetLossArgs& a) {
  CheckLossArgs("TetLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  const int64_t rows = a.steps * a.batch;  // one cross entropy per (t, b)
  const double inv_rows = TetInvRows(TetMeanRows(a.steps, a.batch, a.mean_batch));
  std::vector<double> partial(static_cast<size_t>(rows));
  ParallelFor(rows, SampleGrain(1, a.classes), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) partial[r] = TetLossRowOf(a, inv_rows, r);
  });
  *a.loss = SumInOrder(partial) * inv_rows;
}

}  // namespace edbp::kernels::cpu

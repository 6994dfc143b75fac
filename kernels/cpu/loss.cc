// The three losses of ALGORITHM.md §8 on the CPU. Each (sample, class) column of
// o[T, B, C] is independent: the work is split over samples, each sample's loss is a
// double kept apart and the samples are added in order, so the result does not depend
// on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
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
  const int64_t steps = a.steps;
  const int64_t classes = a.classes;
  const int64_t stride = a.batch * classes;  // between time steps
  const float steps_f = static_cast<float>(steps);
  std::vector<double> partial(static_cast<size_t>(a.batch));
  ParallelFor(a.batch, SampleGrain(steps, classes), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int32_t label = a.labels[b];
      double sample_loss = 0;
      for (int64_t n = 0; n < classes; ++n) {
        const int64_t col = b * classes + n;
        float count = 0;
        for (int64_t t = 0; t < steps; ++t) count += a.o[t * stride + col];  // t in order
        const float target = n == label ? a.desired : a.undesired;
        float delta = (count - target) / steps_f;  // §8
        // §8: compared by value, as the reference does (target == desired_count ...).
        if ((target == a.desired && delta > 0) || (target == a.undesired && delta < 0)) {
          delta = 0;
        }
        const float g = a.sign * delta;
        for (int64_t t = 0; t < steps; ++t) a.grad[t * stride + col] = g;
        // §8: δ repeated over T; the square of a float is exact in double.
        sample_loss += static_cast<double>(steps) *
                       (static_cast<double>(delta) * static_cast<double>(delta));
      }
      partial[b] = 0.5 * sample_loss;
    }
  });
  *a.loss = SumInOrder(partial);
}

void KernelLoss(const KernelLossArgs& a) {
  CheckLossArgs("KernelLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  EDBP_CHECK(a.tau_s > 0) << "KernelLoss: tau_s=" << a.tau_s;
  if (a.batch > 0) EDBP_CHECK(a.target != nullptr) << "KernelLoss: null target";
  const int64_t steps = a.steps;
  const int64_t classes = a.classes;
  const int64_t stride = a.batch * classes;
  // §8 psp: syn = syn·(1 - 1/τs) + d_t, P_t = syn/τs; the factor is formed in double
  // and cast, as the reference's Python scalar is.
  const float decay = static_cast<float>(1.0 - 1.0 / a.tau_s);
  const float tau = static_cast<float>(a.tau_s);
  std::vector<double> partial(static_cast<size_t>(a.batch));
  ParallelFor(a.batch, SampleGrain(steps, classes), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int32_t label = a.labels[b];
      double sample_loss = 0;
      for (int64_t n = 0; n < classes; ++n) {
        const int64_t col = b * classes + n;
        const bool is_label = n == label;
        // Forward: P_t into grad (overwritten below by the backward of the same column).
        float syn = 0;
        for (int64_t t = 0; t < steps; ++t) {
          const int64_t i = t * stride + col;
          const float d = a.o[i] - (is_label ? a.target[t] : 0.0f);
          syn = syn * decay + d;
          const float p = syn / tau;
          a.grad[i] = p;
          sample_loss += static_cast<double>(p) * static_cast<double>(p);
        }
        // Backward of ½ΣP² through the recurrence, latest step first (§8):
        // g_t = P_t/τs + (1 - 1/τs)·g_{t+1}.
        float g = 0;
        for (int64_t t = steps - 1; t >= 0; --t) {
          const int64_t i = t * stride + col;
          g = a.grad[i] / tau + g * decay;
          a.grad[i] = a.sign * g;
        }
      }
      partial[b] = 0.5 * sample_loss;
    }
  });
  *a.loss = SumInOrder(partial);
}

void TetLoss(const TetLossArgs& a) {
  CheckLossArgs("TetLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  const int64_t classes = a.classes;
  const int64_t rows = a.steps * a.batch;  // one cross entropy per (t, b)
  // §8: mean over b and t; the gradient carries the same 1/(B·T).
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  const double sign = a.sign;
  std::vector<double> partial(static_cast<size_t>(rows));
  ParallelFor(rows, SampleGrain(1, classes), [&](int64_t begin, int64_t end) {
    std::vector<double> e(static_cast<size_t>(classes));
    for (int64_t r = begin; r < end; ++r) {
      const int32_t label = a.labels[r % a.batch];
      const float* x = a.o + r * classes;
      float* grad = a.grad + r * classes;
      double max = x[0];
      for (int64_t n = 1; n < classes; ++n)
        max = std::max(max, static_cast<double>(x[n]));
      double sum = 0;
      for (int64_t n = 0; n < classes; ++n) {
        e[n] = std::exp(static_cast<double>(x[n]) - max);
        sum += e[n];
      }
      const double log_sum = max + std::log(sum);
      double row_loss = log_sum;  // - x[label] below
      for (int64_t n = 0; n < classes; ++n) {
        const double onehot = n == label ? 1.0 : 0.0;
        if (n == label) row_loss -= x[n];
        grad[n] = static_cast<float>(sign * ((e[n] / sum - onehot) * inv_rows));
      }
      partial[r] = row_loss;
    }
  });
  *a.loss = SumInOrder(partial) * inv_rows;
}

}  // namespace edbp::kernels::cpu

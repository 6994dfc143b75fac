// The losses of ALGORITHM.md §8 and the output layer's label injection (§5), one sample
// (or one row) at a time, written once for both backends (see kernels/host_device.h):
// kernels/cpu/loss.cc runs them over its thread pool, kernels/cuda/loss.cu one thread
// per sample or row. Each returns that sample's share of the loss in double; the caller
// adds the shares in sample order, so the total does not depend on how the work was
// split. The arguments are those of kernels/ops.h, already checked.
#ifndef EDBP_KERNELS_LOSS_MATH_H_
#define EDBP_KERNELS_LOSS_MATH_H_

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/ops.h"

namespace edbp::kernels {

// §5 for sample b (its label already checked to lie in [0, classes)): the output spike
// of the label's neuron at t* = the last step with du > 0.05 (0 if none) becomes
// [du ≠ 0].
EDBP_HOST_DEVICE inline void LabelInjectSampleOf(const LabelInjectArgs& a, int64_t b) {
  const int64_t stride = a.batch * a.classes;
  const int32_t y = a.labels[b];
  int64_t t_star = 0;
  for (int64_t t = 0; t < a.steps; ++t) {
    if (a.du[t * stride + b * a.classes + y] > 0.05f) t_star = t;
  }
  const int64_t idx = t_star * stride + b * a.classes + y;
  a.o[idx] = a.du[idx] != 0.0f ? 1.0f : 0.0f;
}

// §8 spike-count loss of sample b: δ = (Σ_t o - target)/T per class, zeroed where the
// output already errs on the safe side; grad = sign·δ at every step. Returns ½·Σ T·δ².
EDBP_HOST_DEVICE inline double CountLossSampleOf(const CountLossArgs& a, int64_t b) {
  const int64_t steps = a.steps;
  const int64_t classes = a.classes;
  const int64_t stride = a.batch * classes;  // between time steps
  const float steps_f = static_cast<float>(steps);
  const int32_t label = a.labels[b];
  double sample_loss = 0;
  for (int64_t n = 0; n < classes; ++n) {
    const int64_t col = b * classes + n;
    float count = 0;
    for (int64_t t = 0; t < steps; ++t) count += a.o[t * stride + col];  // t in order
    const float target = n == label ? a.desired : a.undesired;
    float delta = (count - target) / steps_f;
    // Compared by value, as the reference does (target == desired_count ...).
    if ((target == a.desired && delta > 0) || (target == a.undesired && delta < 0)) {
      delta = 0;
    }
    const float g = a.sign * delta;
    for (int64_t t = 0; t < steps; ++t) a.grad[t * stride + col] = g;
    // δ repeated over T; the square of a float is exact in double.
    sample_loss += static_cast<double>(steps) *
                   (static_cast<double>(delta) * static_cast<double>(delta));
  }
  return 0.5 * sample_loss;
}

// The constants of §8's psp filter: syn = syn·decay + d_t, P_t = syn/tau. The factor is
// formed in double and cast, as the reference's Python scalar is.
struct KernelLossConsts {
  float decay, tau;
};

EDBP_HOST_DEVICE inline KernelLossConsts MakeKernelLossConsts(double tau_s) {
  return {static_cast<float>(1.0 - 1.0 / tau_s), static_cast<float>(tau_s)};
}

// §8 kernel loss of sample b: P_t of (o - target) per class (target only on the label's
// class), loss ½ΣP², and its gradient back through the filter, latest step first:
// g_t = P_t/τs + (1 - 1/τs)·g_{t+1}; grad = sign·g.
EDBP_HOST_DEVICE inline double KernelLossSampleOf(const KernelLossArgs& a,
                                                  const KernelLossConsts& k, int64_t b) {
  const int64_t steps = a.steps;
  const int64_t classes = a.classes;
  const int64_t stride = a.batch * classes;
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
      syn = syn * k.decay + d;
      const float p = syn / k.tau;
      a.grad[i] = p;
      sample_loss += static_cast<double>(p) * static_cast<double>(p);
    }
    float g = 0;
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t i = t * stride + col;
      g = a.grad[i] / k.tau + g * k.decay;
      a.grad[i] = a.sign * g;
    }
  }
  return 0.5 * sample_loss;
}

// §8 TET: 1/(B·T), the mean over the rows (t, b), or 0 without rows.
EDBP_HOST_DEVICE inline double TetInvRows(int64_t rows) {
  return rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
}
// The rows the mean runs over: T·mean_batch for a data-parallel slice, else T·batch.
EDBP_HOST_DEVICE inline int64_t TetMeanRows(int64_t steps, int64_t batch,
                                            int64_t mean_batch) {
  return steps * (mean_batch > 0 ? mean_batch : batch);
}

// §8 TET for row r = t·B + b: the cross entropy of o[t, b, :] against b's label (log Σ
// e^x - x[label], with the max subtracted first), and its gradient (softmax - one-hot),
// both carrying the mean's `inv_rows`. Returns the row's unscaled cross entropy.
EDBP_HOST_DEVICE inline double TetLossRowOf(const TetLossArgs& a, double inv_rows,
                                            int64_t r) {
  const int64_t classes = a.classes;
  const int32_t label = a.labels[r % a.batch];
  const float* x = a.o + r * classes;
  float* grad = a.grad + r * classes;
  double max = x[0];
  for (int64_t n = 1; n < classes; ++n) max = MaxLikeStd(max, static_cast<double>(x[n]));
  double sum = 0;
  for (int64_t n = 0; n < classes; ++n) sum += exp(static_cast<double>(x[n]) - max);
  double row_loss = max + log(sum);  // - x[label] below
  const double sign = a.sign;
  for (int64_t n = 0; n < classes; ++n) {
    const double e = exp(static_cast<double>(x[n]) - max);  // as in the sum above
    const double onehot = n == label ? 1.0 : 0.0;
    if (n == label) row_loss -= x[n];
    grad[n] = static_cast<float>(sign * ((e / sum - onehot) * inv_rows));
  }
  return row_loss;
}

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_LOSS_MATH_H_

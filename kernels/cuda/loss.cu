// Output-layer label injection (ALGORITHM.md §5) and the three losses (§8) on the GPU.
// One thread per sample for injection and the count/kernel losses, looping over
// classes and steps exactly as kernels/cpu/loss.cc does (so every float and each
// sample's double loss are bit-identical); one thread per (t, b) row for TET. Each
// thread writes its double loss to `partials`; the host adds them in order.
#include <cmath>

#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"

namespace edbp::kernels::cuda {
namespace {

__global__ void LabelInjectKernel(int64_t steps, int64_t batch, int64_t classes,
                                  const float* du, const int32_t* labels, float* o,
                                  int* bad_label) {
  const int64_t stride = batch * classes;
  for (int64_t b = GlobalIndex(); b < batch; b += GridStride()) {
    const int32_t y = labels[b];
    if (y < 0 || y >= classes) {
      atomicExch(bad_label, 1);  // reported as a Status by the backend
      continue;
    }
    int64_t t_star = 0;  // §5: last t with du > 0.05, 0 if none
    for (int64_t t = 0; t < steps; ++t) {
      if (du[t * stride + b * classes + y] > 0.05f) t_star = t;
    }
    const int64_t idx = t_star * stride + b * classes + y;
    o[idx] = du[idx] != 0.0f ? 1.0f : 0.0f;
  }
}

__global__ void CountLossKernel(CountLossArgs a, double* partials) {
  const int64_t steps = a.steps, classes = a.classes;
  const int64_t stride = a.batch * classes;
  const float steps_f = static_cast<float>(steps);
  for (int64_t b = GlobalIndex(); b < a.batch; b += GridStride()) {
    const int32_t label = a.labels[b];
    double sample_loss = 0;
    for (int64_t n = 0; n < classes; ++n) {
      const int64_t col = b * classes + n;
      float count = 0;
      for (int64_t t = 0; t < steps; ++t) count += a.o[t * stride + col];
      const float target = n == label ? a.desired : a.undesired;
      float delta = (count - target) / steps_f;  // §8
      if ((target == a.desired && delta > 0) || (target == a.undesired && delta < 0)) {
        delta = 0;
      }
      const float g = a.sign * delta;
      for (int64_t t = 0; t < steps; ++t) a.grad[t * stride + col] = g;
      sample_loss += static_cast<double>(steps) *
                     (static_cast<double>(delta) * static_cast<double>(delta));
    }
    partials[b] = 0.5 * sample_loss;
  }
}

__global__ void KernelLossKernel(KernelLossArgs a, float decay, float tau,
                                 double* partials) {
  const int64_t steps = a.steps, classes = a.classes;
  const int64_t stride = a.batch * classes;
  for (int64_t b = GlobalIndex(); b < a.batch; b += GridStride()) {
    const int32_t label = a.labels[b];
    double sample_loss = 0;
    for (int64_t n = 0; n < classes; ++n) {
      const int64_t col = b * classes + n;
      const bool is_label = n == label;
      float syn = 0;  // §8 psp forward: P_t kept in grad until the backward below
      for (int64_t t = 0; t < steps; ++t) {
        const int64_t i = t * stride + col;
        const float d = a.o[i] - (is_label ? a.target[t] : 0.0f);
        syn = syn * decay + d;
        const float p = syn / tau;
        a.grad[i] = p;
        sample_loss += static_cast<double>(p) * static_cast<double>(p);
      }
      float g = 0;  // g_t = P_t/τs + (1 - 1/τs)·g_{t+1}, latest step first (§8)
      for (int64_t t = steps - 1; t >= 0; --t) {
        const int64_t i = t * stride + col;
        g = a.grad[i] / tau + g * decay;
        a.grad[i] = a.sign * g;
      }
    }
    partials[b] = 0.5 * sample_loss;
  }
}

__global__ void TetLossKernel(TetLossArgs a, double inv_rows, double* partials) {
  const int64_t classes = a.classes;
  const int64_t rows = a.steps * a.batch;
  const double sign = a.sign;
  for (int64_t r = GlobalIndex(); r < rows; r += GridStride()) {
    const int32_t label = a.labels[r % a.batch];
    const float* x = a.o + r * classes;
    float* grad = a.grad + r * classes;
    double max = x[0];
    for (int64_t n = 1; n < classes; ++n) max = fmax(max, static_cast<double>(x[n]));
    double sum = 0;
    for (int64_t n = 0; n < classes; ++n) sum += exp(static_cast<double>(x[n]) - max);
    double row_loss = max + log(sum);  // §8 cross entropy: log Σ e^x - x[label]
    for (int64_t n = 0; n < classes; ++n) {
      const double e = exp(static_cast<double>(x[n]) - max);
      const double onehot = n == label ? 1.0 : 0.0;
      if (n == label) row_loss -= x[n];
      grad[n] = static_cast<float>(sign * ((e / sum - onehot) * inv_rows));
    }
    partials[r] = row_loss;
  }
}

}  // namespace

cudaError_t LaunchLabelInject(const LabelInjectArgs& a, int* bad_label,
                              cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.batch, LabelInjectKernel, a.steps, a.batch, a.classes, a.du,
                        a.labels, a.o, bad_label);
}

cudaError_t LaunchCountLoss(const CountLossArgs& a, double* partials,
                            cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.batch, CountLossKernel, a, partials);
}

cudaError_t LaunchKernelLoss(const KernelLossArgs& a, double* partials,
                             cudaStream_t stream) {
  // §8: the factor is formed in double and cast, as the reference's Python scalar.
  const float decay = static_cast<float>(1.0 - 1.0 / a.tau_s);
  const float tau = static_cast<float>(a.tau_s);
  EDBP_LAUNCH_OR_RETURN(a.batch, KernelLossKernel, a, decay, tau, partials);
}

cudaError_t LaunchTetLoss(const TetLossArgs& a, double* partials, cudaStream_t stream) {
  const int64_t rows = a.steps * a.batch;
  const double inv_rows = rows > 0 ? 1.0 / static_cast<double>(rows) : 0.0;
  EDBP_LAUNCH_OR_RETURN(rows, TetLossKernel, a, inv_rows, partials);
}

}  // namespace edbp::kernels::cuda

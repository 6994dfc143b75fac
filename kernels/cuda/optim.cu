// SGD and Adam/AdamW steps (ALGORITHM.md §10) on the GPU: one thread per parameter,
// the float32 operations of kernels/cpu/optim.cc in the same order (no FMA
// contraction, IEEE sqrt and division), so the results equal the CPU's bit for bit.
// Scalars are derived on the host in double and cast where PyTorch casts them.
#include <cmath>

#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"

namespace edbp::kernels::cuda {
namespace {

__global__ void SgdKernel(int64_t n, bool decay, float wd, float neg_lr, float* param,
                          const float* grad) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    float d = grad[i];
    if (decay) d = d + wd * param[i];  // d_p = grad.add(param, alpha=wd)
    param[i] = param[i] + neg_lr * d;  // param.add_(d_p, alpha=-lr)
  }
}

struct AdamScalars {
  bool decoupled, coupled_decay;
  float wd, param_scale, beta1, one_minus_beta1, beta2, one_minus_beta2;
  float neg_step_size, bias_correction2_sqrt, eps;
};

__global__ void AdamKernel(int64_t n, AdamScalars s, float* param, const float* grad,
                           float* exp_avg, float* exp_avg_sq) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    float p = param[i];
    float g = grad[i];
    if (s.decoupled) {
      p = p * s.param_scale;  // param.mul_(1 - lr * wd)
    } else if (s.coupled_decay) {
      g = g + s.wd * p;  // grad.add(param, alpha=wd)
    }
    float m = exp_avg[i] * s.beta1;
    m = m + s.one_minus_beta1 * g;
    float v = exp_avg_sq[i] * s.beta2;
    v = v + s.one_minus_beta2 * g * g;
    const float denom = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
    p = p + s.neg_step_size * (m / denom);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p;
  }
}

}  // namespace

cudaError_t LaunchSgdStep(const SgdStepArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, SgdKernel, a.n, a.weight_decay != 0,
                        static_cast<float>(a.weight_decay), static_cast<float>(-a.lr),
                        a.param, a.grad);
}

cudaError_t LaunchAdamStep(const AdamStepArgs& a, cudaStream_t stream) {
  AdamScalars s;
  s.decoupled = a.decoupled;
  s.coupled_decay = !a.decoupled && a.weight_decay != 0;
  s.wd = static_cast<float>(a.weight_decay);
  s.param_scale = static_cast<float>(1.0 - a.lr * a.weight_decay);
  s.beta1 = static_cast<float>(a.beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - a.beta1);
  s.beta2 = static_cast<float>(a.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - a.beta2);
  const double step = static_cast<double>(a.step);
  const double bias_correction1 = 1.0 - std::pow(a.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(a.beta2, step);
  s.neg_step_size = static_cast<float>(-(a.lr / bias_correction1));
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.eps = static_cast<float>(a.eps);
  EDBP_LAUNCH_OR_RETURN(a.n, AdamKernel, a.n, s, a.param, a.grad, a.exp_avg,
                        a.exp_avg_sq);
}

}  // namespace edbp::kernels::cuda

// SGD and Adam/AdamW steps on the CPU (ALGORITHM.md §10), in the float32 operation
// order of PyTorch 1.13's _single_tensor_sgd / _single_tensor_adam(w). Scalars are
// derived in double and cast to float32 where PyTorch casts its Python floats.
//
// PyTorch's CUDA and AVX2 kernels fuse `a + alpha * b` into an FMA; these loops round
// each operation (the build never contracts, CMakeLists.txt), so results match the
// reference to the last bit or two, not bitwise.
#include <cmath>
#include <cstdint>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/op_checks.h"

namespace edbp::kernels::cpu {
namespace {

constexpr int64_t kGrain = int64_t{1} << 15;

}  // namespace

void SgdStep(const SgdStepArgs& a) {
  CheckSgdStepArgs(a);
  const bool decay = a.weight_decay != 0;
  const float wd = static_cast<float>(a.weight_decay);
  const float neg_lr = static_cast<float>(-a.lr);
  float* param = a.param;
  const float* grad = a.grad;
  ParallelFor(a.n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float d = grad[i];
      if (decay) d = d + wd * param[i];  // d_p = grad.add(param, alpha=wd)
      param[i] = param[i] + neg_lr * d;  // param.add_(d_p, alpha=-lr)
    }
  });
}

void AdamStep(const AdamStepArgs& a) {
  CheckAdamStepArgs(a);
  const bool decoupled = a.decoupled;
  const bool coupled_decay = !decoupled && a.weight_decay != 0;
  const float wd = static_cast<float>(a.weight_decay);
  const float param_scale = static_cast<float>(1.0 - a.lr * a.weight_decay);  // AdamW
  const float beta1 = static_cast<float>(a.beta1);
  const float one_minus_beta1 = static_cast<float>(1.0 - a.beta1);
  const float beta2 = static_cast<float>(a.beta2);
  const float one_minus_beta2 = static_cast<float>(1.0 - a.beta2);
  // PyTorch's step count is a float tensor; beta ** step is a double pow.
  const double step = static_cast<double>(a.step);
  const double bias_correction1 = 1.0 - std::pow(a.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(a.beta2, step);
  const float neg_step_size = static_cast<float>(-(a.lr / bias_correction1));
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float eps = static_cast<float>(a.eps);
  float* param = a.param;
  const float* grad = a.grad;
  float* exp_avg = a.exp_avg;
  float* exp_avg_sq = a.exp_avg_sq;
  ParallelFor(a.n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float p = param[i];
      float g = grad[i];
      if (decoupled) {
        p = p * param_scale;  // param.mul_(1 - lr * wd)
      } else if (coupled_decay) {
        g = g + wd * p;  // grad.add(param, alpha=wd)
      }
      float m = exp_avg[i] * beta1;
      m = m + one_minus_beta1 * g;  // exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
      float v = exp_avg_sq[i] * beta2;
      v = v + one_minus_beta2 * g * g;  // .addcmul_(grad, grad, value=1-beta2)
      const float denom = std::sqrt(v) / bias_correction2_sqrt + eps;
      p = p + neg_step_size * (m / denom);  // param.addcdiv_(m, denom, -step_size)
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      param[i] = p;
    }
  });
}

}  // namespace edbp::kernels::cpu

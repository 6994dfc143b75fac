// Neuron forward and backward (ALGORITHM.md §2, §3): one thread per neuron with the
// time loop inside; at each step consecutive threads touch consecutive addresses of
// the time-major [T, n] tensors (coalesced).
//
// Bit-identical spikes: every operation below is the CPU's (kernels/cpu/neuron.cc) in
// the same order, IEEE-rounded one by one: the target is compiled with --fmad=false
// (no contraction of a*b+c) and with IEEE division (nvcc's default -prec-div=true).
#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"

namespace edbp::kernels::cuda {
namespace {

// std::clamp(v, lo, hi) as the CPU evaluates it: v < lo ? lo : (hi < v ? hi : v); a NaN
// passes through unchanged.
__device__ inline float Clamp(float v, float lo, float hi) {
  return v < lo ? lo : (hi < v ? hi : v);
}

__global__ void NeuronForwardKernel(int64_t steps, int64_t n, NeuronParams p,
                                    int64_t in_stride,  // 0: static input (ops.h)
                                    const float* __restrict__ input,
                                    float* __restrict__ du_out,
                                    float* __restrict__ du_t_out,
                                    float* __restrict__ o_out,
                                    float* __restrict__ spike_count) {
  const float decay_m = 1.0f - p.theta_m;
  const float decay_s = 1.0f - p.theta_s;
  const float decay_g = 1.0f - p.theta_grad;
  const float theta_diff = p.theta_s - p.theta_m;
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    float m = 0, s = 0, g = 0, u_prev = 0, count = 0;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t idx = t * n + i;
      const float in = input[t * in_stride + i];
      m = (m + in) * decay_m;  // §2
      s = (s + in) * decay_s;
      g = (g + in) * decay_g;
      float u, du, du_t;
      if (p.leaky) {
        u = ((m - s) * p.theta_s) / theta_diff;  // §2: evaluated in this order
        du = u - u_prev;
        du_t = p.exponential ? g : du;
      } else {
        du_t = g;
        u = u_prev + g;
        du = g;
      }
      const bool spike = u >= p.threshold;
      if (du_out != nullptr) du_out[idx] = du;  // null: not needed (ops.h)
      if (du_t_out != nullptr) du_t_out[idx] = du_t;
      o_out[idx] = spike ? 1.0f : 0.0f;
      count += spike ? 1.0f : 0.0f;
      if (spike) {
        u_prev = 0;
        m = s = g = 0;
      } else {
        u_prev = u;
      }
    }
    if (spike_count != nullptr) spike_count[i] = count;  // null: not wanted (ops.h)
  }
}

__global__ void NeuronBackwardKernel(
    int64_t steps, int64_t n, float lo_t, const float* __restrict__ e,
    const float* __restrict__ o, const float* __restrict__ du,
    const float* __restrict__ du_t, const float* __restrict__ syn_a,
    const float* __restrict__ partial_a, float* __restrict__ grad_w,
    float* __restrict__ grad_in, float* __restrict__ grad_w_sum) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    bool spiked = false;
    float gw = 0, gt = 0, sum = 0;
    int64_t k = 0;
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t idx = t * n + i;
      const bool out = o[idx] != 0.0f;
      spiked |= out;
      if (out) {
        // §3: -1/0 = -inf clamps to the low end (IEEE division, no fast math).
        const float pu = Clamp(-1.0f / du[idx], -4.0f, 0.0f);
        gw = e[idx] * pu;
        if (grad_in != nullptr) {  // null: no input gradient (ops.h)
          const float put = Clamp(-1.0f / du_t[idx], lo_t, 0.0f);
          gt = e[idx] * put;
        }
        k = 0;
      } else {
        k = k + 1 < steps ? k + 1 : steps;  // syn_a[T] = partial_a[T] = 0 (§1)
      }
      const float g = spiked ? gw * syn_a[k] : 0.0f;
      if (grad_w != nullptr) grad_w[idx] = g;  // null: only the sum is needed (ops.h)
      sum += g;
      if (grad_in != nullptr) grad_in[idx] = spiked ? gt * partial_a[k] : 0.0f;
    }
    if (grad_w_sum != nullptr) grad_w_sum[i] = sum;  // Σ_t from T-1 down (ops.h)
  }
}

}  // namespace

cudaError_t LaunchNeuronForward(const NeuronForwardArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, NeuronForwardKernel, a.steps, a.n, a.params,
                        a.static_input ? int64_t{0} : a.n, a.input, a.du, a.du_t, a.o,
                        a.spike_count);
}

cudaError_t LaunchNeuronBackward(const NeuronBackwardArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, NeuronBackwardKernel, a.steps, a.n, -a.max_dudt_inv, a.e,
                        a.o, a.du, a.du_t, a.syn_a, a.partial_a, a.grad_w, a.grad_in,
                        a.grad_w_sum);
}

}  // namespace edbp::kernels::cuda

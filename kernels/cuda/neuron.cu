// Neuron forward and backward (ALGORITHM.md §2, §3): one thread per neuron with the
// time loop inside; at each step consecutive threads touch consecutive addresses of
// the time-major [T, n] tensors (coalesced).
//
// Bit-identical spikes: the step maths is the CPU's own (kernels/neuron_math.h, which
// kernels/cpu/neuron.cc calls too), IEEE-rounded one by one: the target is compiled
// with --fmad=false (no contraction of a*b+c) and with IEEE division (nvcc's default
// -prec-div=true).
#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/neuron_math.h"

namespace edbp::kernels::cuda {
namespace {

__global__ void NeuronForwardKernel(int64_t steps, int64_t n, NeuronParams p,
                                    int64_t in_stride,  // 0: static input (ops.h)
                                    const float* __restrict__ input,
                                    float* __restrict__ du_out,
                                    float* __restrict__ du_t_out,
                                    float* __restrict__ o_out,
                                    float* __restrict__ spike_count) {
  const NeuronForwardConsts c = MakeNeuronForwardConsts(p);
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    NeuronForwardState state;
    float count = 0;
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t idx = t * n + i;
      const NeuronForwardStep step =
          NeuronForwardStepOf(state, input[t * in_stride + i], c);
      if (du_out != nullptr) du_out[idx] = step.du;  // null: not needed (ops.h)
      if (du_t_out != nullptr) du_t_out[idx] = step.du_t;
      o_out[idx] = step.spike ? 1.0f : 0.0f;
      count += step.spike ? 1.0f : 0.0f;
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
    NeuronBackwardState state;
    float sum = 0;
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t idx = t * n + i;
      // grad_in null: no input gradient (ops.h).
      const float g = NeuronBackwardStepOf(state, o[idx] != 0.0f, e, du, du_t, idx, lo_t,
                                           steps, syn_a, partial_a,
                                           grad_in != nullptr ? grad_in + idx : nullptr);
      if (grad_w != nullptr) grad_w[idx] = g;  // null: only the sum is needed (ops.h)
      sum += g;
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

// Weight standardisation forward and backward (ALGORITHM.md §4): one block per output
// channel. The per-channel sums are in double (tree-added here, in order on the CPU:
// the double sums of a few thousand floats round to the same float32 almost always);
// every float32 expression is the CPU's, from kernels/weight_std_math.h.
#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/weight_std_math.h"

namespace edbp::kernels::cuda {
namespace {

__global__ void WeightStdForwardKernel(int64_t m, const float* w_all, const float* g_all,
                                       const float* b_all, float* w_hat_all,
                                       float* mean_out, float* var_out) {
  __shared__ double shared[kThreads];
  const int64_t c = blockIdx.x;
  const float* w = w_all + c * m;
  double sum = 0;
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) sum += w[j];
  const double mean_d = BlockReduce(sum, shared, AddOp{}) / static_cast<double>(m);
  double sq = 0;
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
    const double d = w[j] - mean_d;
    sq += d * d;
  }
  sq = BlockReduce(sq, shared, AddOp{});
  const WeightStdChannel channel = WeightStdChannelOf(mean_d, sq, m);
  const float g = g_all[c];
  const float b = b_all[c];
  float* w_hat = w_hat_all + c * m;
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x)
    w_hat[j] = WeightStdForwardOf(w[j], channel, g, b);
  if (threadIdx.x == 0) {
    mean_out[c] = channel.mean;
    var_out[c] = channel.var;
  }
}

__global__ void WeightStdBackwardKernel(int64_t m, bool exact, const float* grad_all,
                                        const float* w_all, const float* g_all,
                                        const float* b_all, const float* mean_all,
                                        const float* var_all, float* grad_w_all,
                                        float* grad_g, float* grad_b) {
  __shared__ double shared[kThreads];
  const int64_t c = blockIdx.x;
  const float* grad = grad_all + c * m;
  const float* w = w_all + c * m;
  float* grad_w = grad_w_all + c * m;
  const float mean = mean_all[c];
  const float g = g_all[c];
  const float b = b_all[c];
  const float std_inv = WeightStdInvStd(var_all[c]);
  double sum_g = 0, sum_gw = 0;
  if (!exact) {
    // §4 reference formulas: elementwise, not summed over the channel.
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      sum_g += grad[j];
      sum_gw +=
          static_cast<double>(WeightStdGradGTermOf(grad[j], w[j], mean, std_inv, g, b));
    }
    sum_g = BlockReduce(sum_g, shared, AddOp{});
    sum_gw = BlockReduce(sum_gw, shared, AddOp{});
    const WeightStdReferenceConsts k = MakeWeightStdReferenceConsts(mean, g, std_inv, m);
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x)
      grad_w[j] = WeightStdReferenceGradWOf(grad[j], w[j], k);
  } else {
    // True gradient (weight_norm_backward: exact), as the CPU computes it.
    double dot = 0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      sum_g += grad[j];
      dot += static_cast<double>(grad[j]) * (w[j] - mean);
    }
    sum_g = BlockReduce(sum_g, shared, AddOp{});
    dot = BlockReduce(dot, shared, AddOp{});
    sum_gw = WeightStdExactGradG(dot, std_inv);
    const WeightStdExactConsts k =
        MakeWeightStdExactConsts(mean, g, std_inv, sum_g, dot, m);
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x)
      grad_w[j] = WeightStdExactGradWOf(grad[j], w[j], k);
  }
  if (threadIdx.x == 0) {
    grad_b[c] = static_cast<float>(sum_g);
    grad_g[c] = static_cast<float>(sum_gw);
  }
}

}  // namespace

cudaError_t LaunchWeightStdForward(const WeightStdForwardArgs& a, cudaStream_t stream) {
  ClearPendingError();
  WeightStdForwardKernel<<<static_cast<unsigned int>(a.c_out), kThreads, 0, stream>>>(
      a.m, a.w, a.g, a.b, a.w_hat, a.mean, a.var);
  return cudaGetLastError();
}

cudaError_t LaunchWeightStdBackward(const WeightStdBackwardArgs& a, cudaStream_t stream) {
  ClearPendingError();
  WeightStdBackwardKernel<<<static_cast<unsigned int>(a.c_out), kThreads, 0, stream>>>(
      a.m, a.exact, a.grad_w_hat, a.w, a.g, a.b, a.mean, a.var, a.grad_w, a.grad_g,
      a.grad_b);
  return cudaGetLastError();
}

}  // namespace edbp::kernels::cuda

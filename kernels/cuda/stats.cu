// Reductions for gradient clipping (§10) and the per-layer statistics: each block
// adds a fixed strided subset of the elements in double and writes one partial; the
// host adds the partials in block order. The result depends only on n.
#include <cmath>

#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"

namespace edbp::kernels::cuda {
namespace {

constexpr int64_t kMaxReductionBlocks = 1024;
constexpr int64_t kItemsPerThread = 16;

__global__ void SumSquaresKernel(int64_t n, const float* x, double* partials) {
  __shared__ double shared[kThreads];
  double sq = 0;
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    const double v = x[i];
    sq += v * v;  // exact: the square of a float fits a double
  }
  const double total = BlockReduce(sq, shared, AddOp{});
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void ReduceStatsKernel(int64_t n, const float* x, double* partials) {
  __shared__ double shared[kThreads];
  double sum = 0, sq = 0, mx = 0;
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) {
    const double v = x[i];
    sum += v;
    sq += v * v;
    mx = fmax(mx, fabs(v));
  }
  sum = BlockReduce(sum, shared, AddOp{});
  sq = BlockReduce(sq, shared, AddOp{});
  mx = BlockReduce(mx, shared, MaxOp{});
  if (threadIdx.x == 0) {
    partials[3 * blockIdx.x] = sum;
    partials[3 * blockIdx.x + 1] = sq;
    partials[3 * blockIdx.x + 2] = mx;
  }
}

// One thread per neuron, rows in order: the same float additions as the CPU.
__global__ void SpikeCountKernel(int64_t rows, int64_t neurons, const float* o,
                                 float* counts) {
  for (int64_t i = GlobalIndex(); i < neurons; i += GridStride()) {
    float c = counts[i];
    for (int64_t r = 0; r < rows; ++r) c += o[r * neurons + i];
    counts[i] = c;
  }
}

}  // namespace

int64_t ReductionBlocks(int64_t n) {
  const int64_t per_block = kThreads * kItemsPerThread;
  return std::clamp<int64_t>((n + per_block - 1) / per_block, 1, kMaxReductionBlocks);
}

cudaError_t LaunchSumSquaresPartials(int64_t n, const float* x, double* partials,
                                     cudaStream_t stream) {
  ClearPendingError();
  SumSquaresKernel<<<static_cast<unsigned int>(ReductionBlocks(n)), kThreads, 0,
                     stream>>>(n, x, partials);
  return cudaGetLastError();
}

cudaError_t LaunchReduceStatsPartials(int64_t n, const float* x, double* partials,
                                      cudaStream_t stream) {
  ClearPendingError();
  ReduceStatsKernel<<<static_cast<unsigned int>(ReductionBlocks(n)), kThreads, 0,
                      stream>>>(n, x, partials);
  return cudaGetLastError();
}

cudaError_t LaunchSpikeCount(const SpikeCountArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.neurons, SpikeCountKernel, a.rows, a.neurons, a.o, a.counts);
}

}  // namespace edbp::kernels::cuda

// Launch-shape helpers shared by the .cu files of kernels/cuda/.
#ifndef EDBP_KERNELS_CUDA_KERNEL_UTIL_CUH_
#define EDBP_KERNELS_CUDA_KERNEL_UTIL_CUH_

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace edbp::kernels::cuda {

constexpr int kThreads = 256;
// Grid-stride loops cap the grid here; every kernel loops over the rest.
constexpr int64_t kMaxBlocks = 65535;

// Blocks for one thread per item (grid-stride beyond kMaxBlocks·kThreads items).
inline unsigned int BlocksFor(int64_t items) {
  const int64_t blocks = (items + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(std::clamp<int64_t>(blocks, 1, kMaxBlocks));
}

// The global index of this thread and the grid's stride, as int64 (tensors may exceed
// 2^31 elements).
__device__ inline int64_t GlobalIndex() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t GridStride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// Tree reduction of one double per thread in shared memory; thread 0 gets the total.
template <typename Combine>
__device__ double BlockReduce(double v, double* shared, Combine combine) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      shared[threadIdx.x] = combine(shared[threadIdx.x], shared[threadIdx.x + half]);
    }
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();  // shared is reused by the next reduction
  return total;
}

struct AddOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct MaxOp {
  __device__ double operator()(double a, double b) const { return fmax(a, b); }
};

// cudaGetLastError() after a launch also returns an older pending error (one a library
// call left behind), which would fail the wrong launch and name the wrong launcher:
// every launcher clears it first. A sticky error (a broken context) still comes back
// from the launch itself.
inline void ClearPendingError() { static_cast<void>(cudaGetLastError()); }

// Nothing to launch for an empty range: report success without touching the stream.
#define EDBP_LAUNCH_OR_RETURN(items, kernel, ...)                                      \
  do {                                                                                 \
    if ((items) <= 0) return cudaSuccess;                                              \
    ::edbp::kernels::cuda::ClearPendingError();                                        \
    kernel<<<::edbp::kernels::cuda::BlocksFor(items), ::edbp::kernels::cuda::kThreads, \
             0, stream>>>(__VA_ARGS__);                                                \
    return cudaGetLastError();                                                         \
  } while (0)

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_KERNEL_UTIL_CUH_

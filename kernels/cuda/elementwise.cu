// Elementwise ops and dropout (ALGORITHM.md §5) on the GPU: one thread per element,
// grid-stride, the same float expression as kernels/cpu/elementwise.cc.
#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"

namespace edbp::kernels::cuda {
namespace {

__global__ void FillKernel(int64_t n, float value, float* out) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) out[i] = value;
}

__global__ void ScaleKernel(int64_t n, float alpha, const float* x, float* out) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) out[i] = alpha * x[i];
}

// out may alias a or b: each thread reads its element before writing it.
__global__ void MulKernel(int64_t n, float alpha, const float* a, const float* b,
                          float* out) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride())
    out[i] = (a[i] * b[i]) * alpha;
}

__global__ void AxpyKernel(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = GlobalIndex(); i < n; i += GridStride()) y[i] += alpha * x[i];
}

// out[t, r, i] = x[t, r, i] * mask[r]: the mask is shared by every step (§5).
__global__ void DropoutKernel(int64_t total, int64_t rows, int64_t inner,
                              const float* mask, const float* x, float* out) {
  for (int64_t i = GlobalIndex(); i < total; i += GridStride()) {
    const int64_t row = (i / inner) % rows;
    out[i] = x[i] * mask[row];
  }
}

}  // namespace

cudaError_t LaunchFill(const FillArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, FillKernel, a.n, a.value, a.out);
}

cudaError_t LaunchScale(const ScaleArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, ScaleKernel, a.n, a.alpha, a.x, a.out);
}

cudaError_t LaunchMul(const MulArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, MulKernel, a.n, a.alpha, a.a, a.b, a.out);
}

cudaError_t LaunchAxpy(const AxpyArgs& a, cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.n, AxpyKernel, a.n, a.alpha, a.x, a.y);
}

cudaError_t LaunchDropoutApply(const DropoutApplyArgs& a, cudaStream_t stream) {
  const int64_t total = a.steps * a.rows * a.inner;
  EDBP_LAUNCH_OR_RETURN(total, DropoutKernel, total, a.rows, a.inner, a.mask, a.x, a.out);
}

}  // namespace edbp::kernels::cuda

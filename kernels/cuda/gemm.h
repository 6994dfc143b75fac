// GEMM through cuBLAS (host-compiled only).
#ifndef EDBP_KERNELS_CUDA_GEMM_H_
#define EDBP_KERNELS_CUDA_GEMM_H_

#include <cublas_v2.h>

#include "absl/status/status.h"
#include "kernels/ops.h"

namespace edbp::kernels::cuda {

// The row-major product of ops.h GemmArgs with cublasSgemm (column-major) by computing
// Cᵀ = op(B)ᵀ·op(A)ᵀ. The handle's stream and math mode (FP32, no TF32: §12) are set
// by the backend. Shapes are CHECKed as on the CPU.
absl::Status CublasGemm(cublasHandle_t handle, const GemmArgs& args);

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_GEMM_H_

// Turns every CUDA runtime, cuBLAS and cuDNN result into an absl::Status that names
// the call, the file and the line, e.g.
//   INTERNAL: cudaMalloc(&ptr, bytes) failed at kernels/cuda/device_allocator.cc:41:
//   cudaErrorMemoryAllocation (out of memory)
// Out-of-memory results (cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED, cuDNN's
// host or device allocation failures) map to RESOURCE_EXHAUSTED, everything else to
// INTERNAL. A
// failed call fails the job through its Status; nothing here aborts.
//
// Host-compiled (.cc) files of kernels/cuda/ only: it includes the CUDA headers.
#ifndef EDBP_KERNELS_CUDA_CUDA_CHECK_H_
#define EDBP_KERNELS_CUDA_CUDA_CHECK_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "absl/status/status.h"

namespace edbp::kernels::cuda {

// OK for cudaSuccess; otherwise the error, with `call`, `file` and `line` in the text.
// A failed runtime call also clears the (non-sticky) last error so that later calls
// do not report it again.
absl::Status CudaStatus(cudaError_t err, const char* call, const char* file, int line);
absl::Status CublasStatus(cublasStatus_t st, const char* call, const char* file,
                          int line);
absl::Status CudnnStatus(cudnnStatus_t st, const char* call, const char* file, int line);

// cuDNN 9 reports a sub-code within a category (3002 CUDNN_STATUS_NOT_SUPPORTED_SHAPE
// belongs to 3000 CUDNN_STATUS_NOT_SUPPORTED): these test the category or the codes,
// never `st == CUDNN_STATUS_NOT_SUPPORTED`, which misses every sub-code. Any "not
// supported" result: another algorithm may run where this one does not.
bool CudnnNotSupported(cudnnStatus_t st);
// A host or device allocation inside cuDNN failed (RESOURCE_EXHAUSTED, as every
// out-of-memory result of this backend).
bool CudnnOutOfMemory(cudnnStatus_t st);

}  // namespace edbp::kernels::cuda

// Each evaluates `call` once and returns its Status from the enclosing function when it
// failed.
#define EDBP_CUDA_RETURN_IF_ERROR(call)                                       \
  do {                                                                        \
    ::absl::Status edbp_cuda_status_ =                                        \
        ::edbp::kernels::cuda::CudaStatus((call), #call, __FILE__, __LINE__); \
    if (!edbp_cuda_status_.ok()) return edbp_cuda_status_;                    \
  } while (0)
#define EDBP_CUBLAS_RETURN_IF_ERROR(call)                                       \
  do {                                                                          \
    ::absl::Status edbp_cuda_status_ =                                          \
        ::edbp::kernels::cuda::CublasStatus((call), #call, __FILE__, __LINE__); \
    if (!edbp_cuda_status_.ok()) return edbp_cuda_status_;                      \
  } while (0)
#define EDBP_CUDNN_RETURN_IF_ERROR(call)                                       \
  do {                                                                         \
    ::absl::Status edbp_cuda_status_ =                                         \
        ::edbp::kernels::cuda::CudnnStatus((call), #call, __FILE__, __LINE__); \
    if (!edbp_cuda_status_.ok()) return edbp_cuda_status_;                     \
  } while (0)

// The Status of a call without returning (destructors, cleanup paths).
#define EDBP_CUDA_STATUS(call) \
  ::edbp::kernels::cuda::CudaStatus((call), #call, __FILE__, __LINE__)

#endif  // EDBP_KERNELS_CUDA_CUDA_CHECK_H_

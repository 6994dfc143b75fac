#include "kernels/cuda/cuda_check.h"

#include "absl/strings/str_cat.h"

namespace edbp::kernels::cuda {
namespace {

absl::Status Make(bool out_of_memory, const char* call, const char* file, int line,
                  const std::string& what) {
  std::string msg = absl::StrCat(call, " failed at ", file, ":", line, ": ", what);
  return out_of_memory ? absl::ResourceExhaustedError(msg) : absl::InternalError(msg);
}

}  // namespace

absl::Status CudaStatus(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return absl::OkStatus();
  cudaGetLastError();  // clear a non-sticky error so the next check does not see it
  return Make(err == cudaErrorMemoryAllocation, call, file, line,
              absl::StrCat(cudaGetErrorName(err), " (", cudaGetErrorString(err), ")"));
}

absl::Status CublasStatus(cublasStatus_t st, const char* call, const char* file,
                          int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return Make(
      st == CUBLAS_STATUS_ALLOC_FAILED, call, file, line,
      absl::StrCat(cublasGetStatusName(st), " (", cublasGetStatusString(st), ")"));
}

absl::Status CudnnStatus(cudnnStatus_t st, const char* call, const char* file, int line) {
  if (st == CUDNN_STATUS_SUCCESS) return absl::OkStatus();
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  return Make(CudnnOutOfMemory(st), call, file, line,
              absl::StrCat(cudnnGetErrorString(st), detail[0] ? ": " : "", detail));
}

bool CudnnNotSupported(cudnnStatus_t st) {
  return CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED;
}

bool CudnnOutOfMemory(cudnnStatus_t st) {
  return st == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
         st == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
}

}  // namespace edbp::kernels::cuda

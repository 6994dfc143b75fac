// How the CUDA backend turns CUDA runtime, cuBLAS and cuDNN results into Statuses
// (kernels/cuda/cuda_check.h). Pure mappings: they run without a device (label unit).
#include <string>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_check.h"

namespace edbp::kernels::cuda {
namespace {

TEST(CudnnStatusCategories, EveryNotSupportedSubCodeIsNotSupported) {
  // cuDNN 9's sub-codes 3001-3014 (e.g. CUDNN_STATUS_NOT_SUPPORTED_SHAPE) and the
  // category itself: the convolution then falls back to another algorithm.
  for (int code = 3000; code <= 3014; ++code) {
    EXPECT_TRUE(CudnnNotSupported(static_cast<cudnnStatus_t>(code))) << code;
  }
  EXPECT_TRUE(CudnnNotSupported(CUDNN_STATUS_NOT_SUPPORTED_SHAPE));
  for (const cudnnStatus_t st :
       {CUDNN_STATUS_SUCCESS, CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_INTERNAL_ERROR,
        CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED,
        CUDNN_STATUS_EXECUTION_FAILED, CUDNN_STATUS_NOT_INITIALIZED}) {
    EXPECT_FALSE(CudnnNotSupported(st)) << static_cast<int>(st);
  }
}

TEST(CudnnStatusCategories, HostAndDeviceAllocationFailuresAreOutOfMemory) {
  EXPECT_TRUE(CudnnOutOfMemory(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED));
  EXPECT_TRUE(CudnnOutOfMemory(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED));
  for (const cudnnStatus_t st :
       {CUDNN_STATUS_SUCCESS, CUDNN_STATUS_INTERNAL_ERROR,
        CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED, CUDNN_STATUS_NOT_SUPPORTED,
        CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT}) {
    EXPECT_FALSE(CudnnOutOfMemory(st)) << static_cast<int>(st);
  }
}

TEST(CudnnStatusMapping, OutOfMemoryIsResourceExhaustedElseInternal) {
  const absl::Status device_oom = CudnnStatus(
      CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED, "cudnnX(...)", "f.cc", 12);
  EXPECT_EQ(device_oom.code(), absl::StatusCode::kResourceExhausted) << device_oom;
  EXPECT_NE(std::string(device_oom.message()).find("cudnnX(...) failed at f.cc:12: "),
            std::string::npos)
      << device_oom;
  EXPECT_EQ(
      CudnnStatus(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, "c", "f", 1).code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CudnnStatus(CUDNN_STATUS_NOT_SUPPORTED_SHAPE, "c", "f", 1).code(),
            absl::StatusCode::kInternal);
  EXPECT_TRUE(CudnnStatus(CUDNN_STATUS_SUCCESS, "c", "f", 1).ok());
}

TEST(CudaStatusMapping, RuntimeAndCublasOutOfMemoryAreResourceExhausted) {
  const absl::Status oom =
      CudaStatus(cudaErrorMemoryAllocation, "cudaMalloc(&p, n)", "a.cc", 3);
  EXPECT_EQ(oom.code(), absl::StatusCode::kResourceExhausted) << oom;
  EXPECT_NE(std::string(oom.message()).find("cudaErrorMemoryAllocation"),
            std::string::npos)
      << oom;
  EXPECT_EQ(CudaStatus(cudaErrorInvalidValue, "c", "f", 1).code(),
            absl::StatusCode::kInternal);
  EXPECT_TRUE(CudaStatus(cudaSuccess, "c", "f", 1).ok());
  EXPECT_EQ(CublasStatus(CUBLAS_STATUS_ALLOC_FAILED, "c", "f", 1).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CublasStatus(CUBLAS_STATUS_EXECUTION_FAILED, "c", "f", 1).code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace edbp::kernels::cuda

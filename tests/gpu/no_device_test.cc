// The CUDA backend on a machine without a usable GPU (these build machines): every
// failure is a Status that names the CUDA call, its file and line; nothing aborts.
// Where a device exists these cases cannot happen and the tests skip (the gpu tests
// cover that machine).
#include <string>

#include "gtest/gtest.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_allocator.h"
#include "kernels/registry.h"

namespace edbp::kernels {
namespace {

bool HaveDevice() { return CudaDeviceCount() > 0; }

TEST(CudaWithoutDevice, CreatingTheBackendIsAStatusNamingTheCall) {
  if (HaveDevice()) GTEST_SKIP() << "a CUDA device is visible";
  const absl::StatusOr<std::unique_ptr<CudaBackend>> backend = CudaBackend::Create(0);
  ASSERT_FALSE(backend.ok());
  const std::string msg(backend.status().message());
  EXPECT_NE(msg.find("cudaSetDevice(device) failed at "), std::string::npos) << msg;
  EXPECT_NE(msg.find("kernels/cuda/cuda_backend.cc:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cudaError"), std::string::npos) << msg;  // the error's name
}

TEST(CudaWithoutDevice, AllocationFailureIsAStatusWithTheRequest) {
  if (HaveDevice()) GTEST_SKIP() << "a CUDA device is visible";
  cuda::DeviceAllocator allocator(0);
  const absl::StatusOr<void*> p = allocator.Allocate(1024);
  ASSERT_FALSE(p.ok());
  const std::string msg(p.status().message());
  EXPECT_NE(msg.find("cudaMalloc(&ptr, rounded) failed at "), std::string::npos) << msg;
  EXPECT_NE(msg.find("kernels/cuda/device_allocator.cc:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("request of 1024 bytes on cuda:0"), std::string::npos) << msg;
  EXPECT_EQ(allocator.stats().in_use, 0u);
  EXPECT_EQ(allocator.stats().reserved, 0u);
}

TEST(CudaWithoutDevice, RegistrySaysNoDeviceAndHasNoMemoryStatsForIt) {
  if (HaveDevice()) GTEST_SKIP() << "a CUDA device is visible";
  EXPECT_TRUE(CudaCompiledIn());
  const absl::StatusOr<Backend*> backend = GetBackend(Device{DeviceType::kCuda, 0});
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(
      backend.status().message().find("no CUDA device 0 on this machine (0 visible"),
      absl::string_view::npos)
      << backend.status();
  EXPECT_EQ(GetDeviceMemoryStats(Device{DeviceType::kCuda, 0}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace edbp::kernels

// main() of the gpu tests: runs them where a CUDA device and the CUDA backend exist,
// otherwise prints why and exits with kSkipCode (ctest: SKIP_RETURN_CODE) so that the
// tests show as skipped, not passed.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/gpu/gpu_test.h"

namespace edbp::gpu_test {
namespace {

kernels::Backend* cpu_backend = nullptr;
kernels::Backend* cuda_backend = nullptr;

}  // namespace

kernels::Backend* Cpu() { return cpu_backend; }
kernels::Backend* Cuda() { return cuda_backend; }

}  // namespace edbp::gpu_test

int main(int argc, char** argv) {
  using edbp::kernels::Device;
  using edbp::kernels::DeviceType;
  testing::InitGoogleTest(&argc, argv);
  // Developer aid, never set in CI: runs the comparisons with the CPU backend on both
  // sides, which checks the tests' own bookkeeping (sizes, arguments) on a machine
  // without a GPU. It says nothing about the CUDA kernels.
  const char* self = std::getenv("EDBP_GPU_TEST_CPU_AS_CUDA");
  if (self != nullptr && std::string(self) == "1") {
    std::printf("EDBP_GPU_TEST_CPU_AS_CUDA=1: comparing the CPU backend with itself\n");
    edbp::gpu_test::cpu_backend = *edbp::kernels::GetBackend(Device{});
    edbp::gpu_test::cuda_backend = edbp::gpu_test::cpu_backend;
    return RUN_ALL_TESTS();
  }
  std::string why;
  if (const std::string unavailable = edbp::kernels::CudaUnavailableReason();
      !unavailable.empty()) {
    // The build has CUDA but its modules do not load: broken, not a machine to skip.
    std::fprintf(stderr, "the CUDA modules do not load: %s\n", unavailable.c_str());
    return 1;
  }
  if (!edbp::kernels::CudaCompiledIn()) {
    why = "this build has no CUDA backend (EDBP_CUDA=OFF or no nvcc at configure time)";
  } else if (edbp::kernels::CudaDeviceCount() == 0) {
    why =
        "no CUDA device is visible (no driver, no GPU, or CUDA_VISIBLE_DEVICES hides it)";
  } else {
    absl::StatusOr<edbp::kernels::Backend*> cuda =
        edbp::kernels::GetBackend(Device{DeviceType::kCuda, 0});
    if (!cuda.ok()) {
      // A device exists but the backend cannot start: that is a failure, not a skip.
      std::fprintf(stderr, "CUDA backend failed to start: %s\n",
                   std::string(cuda.status().message()).c_str());
      return 1;
    }
    edbp::gpu_test::cuda_backend = *cuda;
  }
  if (!why.empty()) {
    std::printf("[  SKIPPED ] all gpu tests of %s: %s\n", argv[0], why.c_str());
    return edbp::gpu_test::kSkipCode;
  }
  edbp::gpu_test::cpu_backend = *edbp::kernels::GetBackend(Device{});
  return RUN_ALL_TESTS();
}

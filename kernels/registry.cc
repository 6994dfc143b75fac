#include "kernels/registry.h"

#include "absl/strings/str_cat.h"
#include "kernels/cpu/cpu_backend.h"
#if EDBP_WITH_CUDA
#include "kernels/cuda/device_query.h"
#endif

namespace edbp::kernels {

bool CudaCompiledIn() {
#if EDBP_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int CudaDeviceCount() {
#if EDBP_WITH_CUDA
  static const int count = cuda::DeviceCount();
  return count;
#else
  return 0;
#endif
}

absl::StatusOr<Backend*> GetBackend(const Device& device) {
  switch (device.type) {
    case DeviceType::kCpu: {
      static CpuBackend* const cpu = new CpuBackend();
      return cpu;
    }
    case DeviceType::kCuda: {
      const int count = CudaDeviceCount();
      if (device.index < 0 || device.index >= count) {
        return absl::NotFoundError(absl::StrCat(
            "no CUDA device ", device.index, " on this machine (", count,
            " visible", CudaCompiledIn() ? "" : "; this build has no CUDA support",
            ")"));
      }
      return absl::UnimplementedError(
          "this build has no CUDA backend yet: the CUDA kernels arrive with the CUDA "
          "backend issue; use backend: cpu");
    }
  }
  return absl::InvalidArgumentError("unknown device type");
}

}  // namespace edbp::kernels

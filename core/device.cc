#include "core/device.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/registry.h"

namespace edbp {

absl::StatusOr<kernels::Device> ResolveDevice(config::BackendChoice choice,
                                              int local_rank) {
  const kernels::Device cpu{kernels::DeviceType::kCpu, 0};
  const int devices = kernels::CudaDeviceCount();
  const kernels::Device gpu{kernels::DeviceType::kCuda,
                            devices > 0 ? local_rank % devices : 0};
  // A GPU only counts once this build can run on it: the backend starts (GetBackend)
  // and implements every op.
  bool gpu_usable = false;
  if (devices > 0) {
    const absl::StatusOr<kernels::Backend*> backend = kernels::GetBackend(gpu);
    gpu_usable = backend.ok();
    for (int op = 0; gpu_usable && op < static_cast<int>(kernels::Op::kNumOps); ++op) {
      gpu_usable = (*backend)->Supports(static_cast<kernels::Op>(op));
    }
  }
  switch (choice) {
    case config::BackendChoice::kCpu:
      return cpu;
    case config::BackendChoice::kAuto:
      return gpu_usable ? gpu : cpu;
    case config::BackendChoice::kCuda:
      if (gpu_usable) return gpu;
      if (!kernels::CudaCompiledIn()) {
        return absl::FailedPreconditionError(
            "Network.backend: cuda was asked for, but this binary was built without "
            "CUDA (configure with EDBP_CUDA=ON on a machine with nvcc); use backend: cpu "
            "or auto");
      }
      if (kernels::CudaDeviceCount() == 0) {
        const std::string unavailable = kernels::CudaUnavailableReason();
        if (!unavailable.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "Network.backend: cuda was asked for, but this build's CUDA side cannot "
              "be loaded: ",
              unavailable, "; use backend: cpu or auto"));
        }
        return absl::FailedPreconditionError(
            "Network.backend: cuda was asked for, but no CUDA device is visible on this "
            "machine (no driver, no GPU, or CUDA_VISIBLE_DEVICES hides them); use "
            "backend: cpu or auto");
      }
      if (absl::Status started = kernels::GetBackend(gpu).status(); !started.ok()) {
        return started;
      }
      return absl::FailedPreconditionError(
          "Network.backend: cuda was asked for, but this build's CUDA backend does not "
          "implement every op; use backend: cpu or auto");
  }
  return absl::InvalidArgumentError("unknown backend choice");
}

absl::StatusOr<kernels::Backend*> ResolveBackend(config::BackendChoice choice,
                                                 int local_rank) {
  EDBP_ASSIGN_OR_RETURN(const kernels::Device device, ResolveDevice(choice, local_rank));
  return kernels::GetBackend(device);
}

}  // namespace edbp

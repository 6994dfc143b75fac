#include "kernels/registry.h"

#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cpu/cpu_backend.h"
#if EDBP_WITH_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/device_query.h"
#endif

namespace edbp::kernels {
namespace {

#if EDBP_WITH_CUDA
// One CudaBackend per device for the life of the process (Tensors hold raw pointers to
// their backend, so it is never destroyed). A failed creation is not cached: the next
// call tries again and reports its own error.
std::mutex cuda_mu;
std::map<int, CudaBackend*>& CudaBackends() {
  static auto* const backends = new std::map<int, CudaBackend*>();
  return *backends;
}

absl::StatusOr<CudaBackend*> GetCudaBackend(int index) {
  std::lock_guard<std::mutex> lock(cuda_mu);
  auto& backends = CudaBackends();
  if (auto it = backends.find(index); it != backends.end()) return it->second;
  absl::StatusOr<std::unique_ptr<CudaBackend>> created = CudaBackend::Create(index);
  if (!created.ok()) {
    return absl::Status(created.status().code(),
                        absl::StrCat("cannot start the CUDA backend on cuda:", index,
                                     ": ", created.status().message()));
  }
  CudaBackend* backend = created->release();
  backends.emplace(index, backend);
  return backend;
}
#endif

}  // namespace

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
            "no CUDA device ", device.index, " on this machine (", count, " visible",
            CudaCompiledIn() ? "" : "; this build has no CUDA support", ")"));
      }
#if EDBP_WITH_CUDA
      EDBP_ASSIGN_OR_RETURN(CudaBackend* const cuda, GetCudaBackend(device.index));
      return static_cast<Backend*>(cuda);
#else
      return absl::UnimplementedError(
          "this build has no CUDA backend (configure with EDBP_CUDA=ON where nvcc "
          "exists); "
          "use backend: cpu");
#endif
    }
  }
  return absl::InvalidArgumentError("unknown device type");
}

absl::StatusOr<DeviceMemoryStats> GetDeviceMemoryStats(const Device& device,
                                                       bool reset_peak) {
  if (device.type != DeviceType::kCuda) {
    return absl::UnimplementedError(
        absl::StrCat("no device memory statistics for ", device.ToString()));
  }
#if EDBP_WITH_CUDA
  EDBP_ASSIGN_OR_RETURN(Backend* const backend, GetBackend(device));
  CudaBackend* const cuda = static_cast<CudaBackend*>(backend);
  const DeviceMemoryStats s = cuda->MemoryStats();
  if (reset_peak) cuda->ResetPeakMemory();
  return s;
#else
  (void)reset_peak;
  return GetBackend(device).status();
#endif
}

}  // namespace edbp::kernels

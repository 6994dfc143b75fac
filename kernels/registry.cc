#include "kernels/registry.h"

#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/device_collective.h"
#if EDBP_WITH_CUDA
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "kernels/cuda_modules.h"
#endif

namespace edbp::kernels {
namespace {

#if EDBP_WITH_CUDA
// The directory the CUDA modules are looked for in (cuda_modules.h); "" when the
// executable's own path cannot be read.
std::string ModuleDir() {
  if (const char* env = std::getenv(kCudaModuleDirEnv); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (exe.parent_path() / ".." / "lib" / "edbp").lexically_normal().string();
}

// dlopen of the module `file` and dlsym of `symbol` in it; the error names the path and
// what the loader said.
absl::StatusOr<void*> LoadModuleSymbol(const char* file, const char* symbol) {
  const std::string dir = ModuleDir();
  if (dir.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot find ", file, ": /proc/self/exe is unreadable; set ", kCudaModuleDirEnv));
  }
  const std::string path = absl::StrCat(dir, "/", file);
  // Never unloaded: the backend and its Tensors live as long as the process.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot load the CUDA module ", path, ": ",
        why != nullptr ? why : "dlopen failed", " (", kCudaModuleDirEnv,
        " names the directory of ", kCudaQueryModule, " and ", kCudaBackendModule, ")"));
  }
  void* entry = dlsym(handle, symbol);
  if (entry == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not an edbp CUDA module: it has no ", symbol));
  }
  return entry;
}

struct DeviceQuery {
  int count = 0;
  std::string unavailable;  // why the query module could not be used; "" when it was
};

// Loaded once per process: the device count cannot change under a running process
// (CUDA_VISIBLE_DEVICES is read at the runtime's initialisation).
const DeviceQuery& Query() {
  static const DeviceQuery* const query = [] {
    auto* q = new DeviceQuery();
    absl::StatusOr<void*> entry =
        LoadModuleSymbol(kCudaQueryModule, kCudaDeviceCountSymbol);
    if (!entry.ok()) {
      q->unavailable = std::string(entry.status().message());
    } else {
      q->count = reinterpret_cast<CudaDeviceCountFn>(*entry)();
    }
    return q;
  }();
  return *query;
}

// The backend module, loaded on the first CUDA backend's creation; a failure is kept
// (it cannot succeed later in the same process).
absl::StatusOr<const CudaModuleV1*> BackendModule() {
  static const auto* const module = [] {
    auto* result = new absl::StatusOr<const CudaModuleV1*>();
    absl::StatusOr<void*> entry =
        LoadModuleSymbol(kCudaBackendModule, kCudaBackendSymbol);
    if (!entry.ok()) {
      *result = entry.status();
      return result;
    }
    const CudaModuleV1* m = reinterpret_cast<CudaBackendFn>(*entry)();
    if (m == nullptr || m->abi != kCudaModuleAbi || m->size != sizeof(CudaModuleV1) ||
        m->create_backend == nullptr) {
      *result = absl::FailedPreconditionError(absl::StrCat(
          kCudaBackendModule, " in ", ModuleDir(),
          " comes from another build of edbp (module ABI ", m == nullptr ? -1 : m->abi,
          ", this binary's ", kCudaModuleAbi, "): install the modules built with it"));
      return result;
    }
    *result = m;
    return result;
  }();
  return *module;
}

// One CUDA backend per device for the life of the process (Tensors hold raw pointers to
// their backend, so it is never destroyed). A failed creation is not cached: the next
// call tries again and reports its own error.
std::mutex cuda_mu;
std::map<int, Backend*>& CudaBackends() {
  static auto* const backends = new std::map<int, Backend*>();
  return *backends;
}

absl::StatusOr<Backend*> GetCudaBackend(int index) {
  std::lock_guard<std::mutex> lock(cuda_mu);
  auto& backends = CudaBackends();
  if (auto it = backends.find(index); it != backends.end()) return it->second;
  const absl::StatusOr<const CudaModuleV1*> module = BackendModule();
  absl::StatusOr<Backend*> created =
      module.ok() ? (*module)->create_backend(index) : module.status();
  if (!created.ok()) {
    return absl::Status(created.status().code(),
                        absl::StrCat("cannot start the CUDA backend on cuda:", index,
                                     ": ", created.status().message()));
  }
  backends.emplace(index, *created);
  return *created;
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
  return Query().count;
#else
  return 0;
#endif
}

std::string CudaUnavailableReason() {
#if EDBP_WITH_CUDA
  return Query().unavailable;
#else
  return "";
#endif
}

bool NcclCompiledIn() {
#if EDBP_WITH_CUDA && EDBP_WITH_NCCL
  return true;
#else
  return false;
#endif
}

absl::StatusOr<std::string> NcclGroupId() {
#if EDBP_WITH_CUDA && EDBP_WITH_NCCL
  const absl::StatusOr<const CudaModuleV1*> module = BackendModule();
  if (!module.ok()) return module.status();
  if ((*module)->nccl_group_id == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(kCudaBackendModule, " was built without NCCL"));
  }
  return (*module)->nccl_group_id();
#else
  return absl::FailedPreconditionError("this build has no NCCL (it needs CUDA and NCCL)");
#endif
}

absl::StatusOr<std::unique_ptr<DeviceCollective>> NcclJoin(const std::string& id,
                                                           int ranks, int rank,
                                                           Backend* backend) {
#if EDBP_WITH_CUDA && EDBP_WITH_NCCL
  const absl::StatusOr<const CudaModuleV1*> module = BackendModule();
  if (!module.ok()) return module.status();
  if ((*module)->nccl_join == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(kCudaBackendModule, " was built without NCCL"));
  }
  return (*module)->nccl_join(id, ranks, rank, backend);
#else
  (void)id;
  (void)ranks;
  (void)rank;
  (void)backend;
  return absl::FailedPreconditionError("this build has no NCCL (it needs CUDA and NCCL)");
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
        const std::string unavailable = CudaUnavailableReason();
        return absl::NotFoundError(absl::StrCat(
            "no CUDA device ", device.index, " on this machine (", count, " visible",
            CudaCompiledIn() ? "" : "; this build has no CUDA support",
            unavailable.empty() ? "" : "; ", unavailable, ")"));
      }
#if EDBP_WITH_CUDA
      return GetCudaBackend(device.index);
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
  EDBP_ASSIGN_OR_RETURN(Backend* const backend, GetBackend(device));
  const DeviceMemoryStats s = backend->MemoryStats();
  if (reset_peak) backend->ResetPeakMemory();
  return s;
}

}  // namespace edbp::kernels

// The CUDA side as two shared modules that kernels/registry.cc loads with dlopen on
// first use, so that a process that never touches a GPU never maps the CUDA libraries:
// cuBLASLt alone adds about 150 MB of resident memory (its relocations) the moment it
// is loaded, which a CPU job would otherwise pay for nothing.
//
//   libedbp_cuda_query.so  kCudaDeviceCountSymbol; links the CUDA runtime only. Loaded
//                          by CudaDeviceCount(), which `backend: auto` calls on every
//                          machine.
//   libedbp_cuda.so        kCudaBackendSymbol: the backend (cuBLAS, cuDNN). Loaded
//                          only when a CUDA backend is created on a visible device.
//
// Where they are looked for, in order: the directory in EDBP_CUDA_MODULE_DIR, then
// <the executable's directory>/../lib/edbp (build/bin -> build/lib/edbp; the image's
// /opt/edbp/bin -> /opt/edbp/lib/edbp). Both come from the same build as the
// executable; kCudaModuleAbi catches a module left over from another one.
//
// This header is plain C++: the registry includes it, the modules implement it
// (kernels/cuda/modules.cc).
#ifndef EDBP_KERNELS_CUDA_MODULES_H_
#define EDBP_KERNELS_CUDA_MODULES_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/device_collective.h"

namespace edbp::kernels {

inline constexpr char kCudaModuleDirEnv[] = "EDBP_CUDA_MODULE_DIR";
inline constexpr char kCudaQueryModule[] = "libedbp_cuda_query.so";
inline constexpr char kCudaBackendModule[] = "libedbp_cuda.so";
// Bumped whenever CudaModuleV1's layout or meaning changes.
inline constexpr int kCudaModuleAbi = 2;

// What libedbp_cuda.so hands out.
struct CudaModuleV1 {
  int abi = kCudaModuleAbi;  // the module's kCudaModuleAbi
  size_t size = sizeof(CudaModuleV1);
  // A new CUDA backend on device `index` (the caller keeps it for the life of the
  // process); the errors of CudaBackend::Create.
  absl::StatusOr<Backend*> (*create_backend)(int index) = nullptr;
  // NCCL (kernels/device_collective.h); both null in a module built without it.
  absl::StatusOr<std::string> (*nccl_group_id)() = nullptr;
  absl::StatusOr<std::unique_ptr<DeviceCollective>> (*nccl_join)(
      const std::string& id, int ranks, int rank, Backend* backend) = nullptr;
};

// The modules' entry points (extern "C" names, looked up with dlsym):
//   int edbp_cuda_device_count(void);                 libedbp_cuda_query.so
//   const CudaModuleV1* edbp_cuda_backend_v1(void);   libedbp_cuda.so
inline constexpr char kCudaDeviceCountSymbol[] = "edbp_cuda_device_count";
inline constexpr char kCudaBackendSymbol[] = "edbp_cuda_backend_v1";
using CudaDeviceCountFn = int (*)();
using CudaBackendFn = const CudaModuleV1* (*)();

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_CUDA_MODULES_H_

// Which backends exist in this build and on this machine, and the backend for a
// device.
//
// This file (with registry.cc) is the one place outside kernels/cuda/ that knows
// whether CUDA was compiled in (EDBP_WITH_CUDA); registry.cc loads the CUDA side from
// its modules (kernels/cuda_modules.h).
#ifndef EDBP_KERNELS_REGISTRY_H_
#define EDBP_KERNELS_REGISTRY_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace edbp::kernels {

// True when the CUDA backend was compiled into this binary.
bool CudaCompiledIn();

// Number of usable CUDA devices: 0 when CUDA is not compiled in, when its modules
// cannot be loaded (CudaUnavailableReason), when there is no driver, or when no device
// is visible (CUDA_VISIBLE_DEVICES). The first call loads libedbp_cuda_query.so (the
// CUDA runtime only; kernels/cuda_modules.h); cuBLAS and cuDNN are loaded only with
// the first CUDA backend.
int CudaDeviceCount();

// Why this build's CUDA modules could not be loaded (the path tried and the loader's
// message); "" when they were, or when CUDA is not compiled in.
std::string CudaUnavailableReason();

// The backend for `device`. The CPU backend is a process-wide singleton (thread-safe
// to obtain; see Backend for how to call it). Errors: NOT_FOUND for a CUDA device
// that does not exist on this machine (the message says how many exist),
// UNIMPLEMENTED when this build has no CUDA backend.
absl::StatusOr<Backend*> GetBackend(const Device& device);

// The memory statistics of `device`'s backend (Backend::MemoryStats); with reset_peak
// the peaks restart from the current values after reading. GetBackend's errors.
absl::StatusOr<DeviceMemoryStats> GetDeviceMemoryStats(const Device& device,
                                                       bool reset_peak = false);

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_REGISTRY_H_

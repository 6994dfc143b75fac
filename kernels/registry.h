// Which backends exist in this build and on this machine, and the backend for a
// device.
//
// This file (with registry.cc) is the one place outside kernels/cuda/ that knows
// whether CUDA was compiled in (EDBP_WITH_CUDA).
#ifndef EDBP_KERNELS_REGISTRY_H_
#define EDBP_KERNELS_REGISTRY_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace edbp::kernels {

// True when the CUDA backend was compiled into this binary.
bool CudaCompiledIn();

// Number of usable CUDA devices: 0 when CUDA is not compiled in, when there is no
// driver, or when no device is visible (CUDA_VISIBLE_DEVICES).
int CudaDeviceCount();

// The backend for `device`. The CPU backend is a process-wide singleton (thread-safe
// to obtain; see Backend for how to call it). Errors: NOT_FOUND for a CUDA device
// that does not exist on this machine (the message says how many exist),
// UNIMPLEMENTED when this build has no CUDA backend.
absl::StatusOr<Backend*> GetBackend(const Device& device);

// The statistics of `device`'s backend; with reset_peak the peaks restart from the
// current values after reading. UNIMPLEMENTED for the CPU; GetBackend's errors.
absl::StatusOr<DeviceMemoryStats> GetDeviceMemoryStats(const Device& device,
                                                       bool reset_peak = false);

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_REGISTRY_H_

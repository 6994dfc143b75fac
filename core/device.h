// Turns the config's `backend:` choice into a device and its Backend.
#ifndef EDBP_CORE_DEVICE_H_
#define EDBP_CORE_DEVICE_H_

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "kernels/backend.h"

namespace edbp {

// auto → cuda:0 where a CUDA device exists and this build has the CUDA backend, else
// cpu; cpu → cpu; cuda → cuda:0, or FAILED_PRECONDITION ("backend: cuda was asked
// for, but ...") where there is no device or no CUDA support in this build.
absl::StatusOr<kernels::Device> ResolveDevice(config::BackendChoice choice);

// ResolveDevice + kernels::GetBackend.
absl::StatusOr<kernels::Backend*> ResolveBackend(config::BackendChoice choice);

}  // namespace edbp

#endif  // EDBP_CORE_DEVICE_H_

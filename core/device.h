// Turns the config's `backend:` choice into a device and its Backend.
#ifndef EDBP_CORE_DEVICE_H_
#define EDBP_CORE_DEVICE_H_

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "kernels/backend.h"

namespace edbp {

// auto → cuda:K where a CUDA device exists and this build has the CUDA backend, else
// cpu; cpu → cpu; cuda → cuda:K, or FAILED_PRECONDITION ("backend: cuda was asked
// for, but ...") where there is no device or no CUDA support in this build.
// K = local_rank % the visible devices: the ranks of a data-parallel run on one node
// (issue 18; local_rank 0 for a single process) take one GPU each, round robin.
absl::StatusOr<kernels::Device> ResolveDevice(config::BackendChoice choice,
                                              int local_rank = 0);

// ResolveDevice + kernels::GetBackend.
absl::StatusOr<kernels::Backend*> ResolveBackend(config::BackendChoice choice,
                                                 int local_rank = 0);

}  // namespace edbp

#endif  // EDBP_CORE_DEVICE_H_

// NCCL's all-reduce as a DeviceCollective (kernels/device_collective.h), built into the
// CUDA module when the toolkit has NCCL (EDBP_WITH_NCCL). The module's entry points
// hand these functions out (kernels/cuda_modules.h); nothing else calls them.
#ifndef EDBP_KERNELS_CUDA_NCCL_COLLECTIVE_H_
#define EDBP_KERNELS_CUDA_NCCL_COLLECTIVE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/device_collective.h"

namespace edbp::kernels::cuda {

// ncclGetUniqueId as kCollectiveGroupIdBytes bytes.
absl::StatusOr<std::string> NcclNewGroupId();

// ncclCommInitRank on the device of `backend` (a CudaBackend), its all-reduce enqueued
// on the backend's stream.
absl::StatusOr<std::unique_ptr<DeviceCollective>> NcclJoinGroup(const std::string& id,
                                                                int ranks, int rank,
                                                                Backend* backend);

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_NCCL_COLLECTIVE_H_

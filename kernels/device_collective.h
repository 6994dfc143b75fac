// Collectives over a backend's device memory between the processes of a data-parallel
// run (issue 18): NCCL's all-reduce on CUDA devices. The CUDA module makes them
// (kernels/cuda/nccl_collective.cc is the only file that includes nccl.h); dist/ wraps
// one in a Communicator whose other collectives go over MPI, which also carries the
// group id from rank 0 to the others (NCCL's own bootstrap then connects them).
//
// Without NCCL in the build, or without a CUDA device, the functions below say so and a
// GPU run's gradients go through host memory over MPI instead (communicator.h).
#ifndef EDBP_KERNELS_DEVICE_COLLECTIVE_H_
#define EDBP_KERNELS_DEVICE_COLLECTIVE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace edbp::kernels {

// The size of a group id (NCCL_UNIQUE_ID_BYTES).
inline constexpr size_t kCollectiveGroupIdBytes = 128;

class DeviceCollective {
 public:
  virtual ~DeviceCollective() = default;
  // data[i] ← Σ over the group's ranks of data[i], i in [0, n), in the device memory of
  // the backend the group was joined on; in place, after every op enqueued before it,
  // and complete when it returns. Errors name NCCL's or CUDA's.
  virtual absl::Status AllReduceSum(float* data, int64_t n) = 0;
};

// Whether this build's CUDA module has NCCL (false without CUDA).
bool NcclCompiledIn();

// A new group id (kCollectiveGroupIdBytes bytes), made by one rank and sent to the
// others. Errors: FAILED_PRECONDITION without NCCL in the build; the CUDA module's
// (it cannot be loaded); INTERNAL naming NCCL's error.
absl::StatusOr<std::string> NcclGroupId();

// Joins group `id` as rank `rank` of `ranks` on `backend`, which must be a CUDA backend
// (one device per rank: NCCL refuses two ranks on one device). Blocks until every rank
// has joined. Errors: as NcclGroupId; INVALID_ARGUMENT for an id of another size, rank
// outside [0, ranks) or a backend that is not CUDA.
absl::StatusOr<std::unique_ptr<DeviceCollective>> NcclJoin(const std::string& id,
                                                           int ranks, int rank,
                                                           Backend* backend);

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_DEVICE_COLLECTIVE_H_

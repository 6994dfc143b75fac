// A Communicator whose device all-reduce is a DeviceCollective (NCCL,
// kernels/device_collective.h) and whose other calls go to a host communicator (MPI),
// which also carries NCCL's group id from rank 0 to the others (issue 18). A GPU run of
// several ranks, one device each, sums its gradients with it; ranks sharing a device,
// or a build without NCCL, keep the host communicator (gradients through host memory).
#ifndef EDBP_DIST_DEVICE_COMMUNICATOR_H_
#define EDBP_DIST_DEVICE_COMMUNICATOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/dist/communicator.h"
#include "kernels/backend.h"

namespace edbp::dist {

// Whether a run of `host`'s ranks on `backend` can use NCCL: a CUDA backend, more than
// one rank, NCCL in this build, at least as many visible devices as ranks on this node,
// and EDBP_COLLECTIVES not "mpi". Otherwise "" is returned in `why_not`'s place: the
// reason, for the log.
bool CanUseNccl(const Communicator& host, const kernels::Backend& backend,
                std::string* why_not);

// Makes the NCCL group over `host`'s ranks on `backend` (collective: every rank calls
// it). `host` (not owned) must outlive the result. Errors: those of
// kernels::NcclGroupId and NcclJoin, rank 0's on every rank (the ranks then agree to
// fail), and the host's.
absl::StatusOr<std::unique_ptr<Communicator>> WithNccl(Communicator* host,
                                                       kernels::Backend* backend);

}  // namespace edbp::dist

#endif  // EDBP_DIST_DEVICE_COMMUNICATOR_H_

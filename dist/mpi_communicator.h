// The Communicator over MPI (issue 18): MPI_COMM_WORLD's ranks, the node's ranks from
// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), errors returned (MPI_ERRORS_RETURN) and
// turned into Status with MPI's own message. The only header of edbp that sees mpi.h
// is this one's .cc file. Counts above INT_MAX go in several calls.
#ifndef EDBP_DIST_MPI_COMMUNICATOR_H_
#define EDBP_DIST_MPI_COMMUNICATOR_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/dist/communicator.h"

namespace edbp::dist {

// MPI_Init_thread (MPI_THREAD_FUNNELED: only the calling thread makes MPI calls) and
// the world communicator; MPI_Finalize when the returned object is destroyed. At most
// one per process. Errors: UNAVAILABLE naming MPI's error.
absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator();

}  // namespace edbp::dist

#endif  // EDBP_DIST_MPI_COMMUNICATOR_H_

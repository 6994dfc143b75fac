// How edbp-train learns whether it is one rank of a data-parallel run (issue 18).
//
// A process started by an MPI launcher (mpirun/mpiexec, `srun --mpi=pmix`, a Kubeflow
// MPIJob's mpirun) finds the launcher's wire-up variables in its environment
// (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or PMI_SIZE): then MPI is initialised and
// the rank, the size and the local rank come from MPI itself, never from those
// variables (under `sbatch ... mpirun` every rank sees SLURM_PROCID=0). Any other
// process is a run of one (LocalCommunicator), exactly as before MPI existed here.
#ifndef EDBP_DIST_LAUNCH_H_
#define EDBP_DIST_LAUNCH_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/dist/communicator.h"

namespace edbp::dist {

// Whether the environment is an MPI launcher's (see above).
bool StartedByMpiLauncher();

// Whether this build has the MPI communicator (EDBP_MPI, CMake).
bool BuiltWithMpi();

// The communicator of this process: MPI's when started by an MPI launcher, else a
// LocalCommunicator. Call once, before any thread is started; the MPI one finalises
// MPI when destroyed. Errors: FAILED_PRECONDITION when an MPI launcher started a build
// without MPI; UNAVAILABLE naming MPI's error when MPI_Init fails.
absl::StatusOr<std::unique_ptr<Communicator>> CommunicatorForThisProcess();

}  // namespace edbp::dist

#endif  // EDBP_DIST_LAUNCH_H_

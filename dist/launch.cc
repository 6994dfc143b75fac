#include "dist/launch.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

#ifdef EDBP_WITH_MPI
#include "dist/mpi_communicator.h"
#endif

namespace edbp::dist {

bool StartedByMpiLauncher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

bool BuiltWithMpi() {
#ifdef EDBP_WITH_MPI
  return true;
#else
  return false;
#endif
}

absl::StatusOr<std::unique_ptr<Communicator>> CommunicatorForThisProcess() {
  if (!StartedByMpiLauncher()) return std::make_unique<LocalCommunicator>();
#ifdef EDBP_WITH_MPI
  return CreateMpiCommunicator();
#else
  return absl::FailedPreconditionError(
      "started by an MPI launcher, but this edbp-train was built without MPI "
      "(EDBP_MPI=OFF or no MPI found at build time): it cannot be one rank of a "
      "data-parallel run; install Open MPI (scripts/install-deps.sh) and rebuild, or "
      "start one process without mpirun");
#endif
}

}  // namespace edbp::dist

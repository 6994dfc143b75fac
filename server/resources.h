// The resources of a job (issue 18): MPI ranks, GPUs per rank, machines, resolved from
// a CreateJobRequest against what the server can run. Errors are INVALID_ARGUMENT
// naming the field, e.g.
//   "workers: expected 1 to 1024, got 0"  (0 is the default: 1; negative values fail)
//   "Network.batch_size: 50 is not divisible by 3 workers"
//   "nodes: 3 nodes for 2 workers; a node runs at least one worker"
//   "workers: the job needs 4 slots at once, this server has 2 (--cpu-slots)"
#ifndef EDBP_SERVER_RESOURCES_H_
#define EDBP_SERVER_RESOURCES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "edbp/v1/training_service.pb.h"

namespace edbp::server {

inline constexpr int kMaxWorkers = 1024;
inline constexpr int kMaxGpusPerWorker = 16;

// Which executor runs the jobs (edbp-server --executor).
enum class ExecutorKind {
  kLocal,  // edbp-train (W = 1) or mpirun -np W on the server's machine
  kSlurm,  // sbatch + srun --mpi=pmix on a Slurm cluster
};

// What the server offers, for the checks.
struct ServerCapacity {
  ExecutorKind executor = ExecutorKind::kLocal;
  bool has_gpus = false;  // the local machine's GPU slots (local executor)
  int slots = 1;          // device slots of the local executor
};

struct JobResources {
  int workers = 1;
  int gpus_per_worker = 0;
  int nodes = 1;
};

// Defaults filled in, then checked; `batch_size` is the config's Network.batch_size.
absl::StatusOr<JobResources> ResolveResources(const v1::CreateJobRequest& request,
                                              int64_t batch_size,
                                              const ServerCapacity& capacity);

// Slots the local executor gives the job at once: one per rank on a CPU server, one
// per GPU (workers × max(1, gpus_per_worker)) on a GPU server.
int SlotsNeeded(const JobResources& resources, bool has_gpus);

}  // namespace edbp::server

#endif  // EDBP_SERVER_RESOURCES_H_

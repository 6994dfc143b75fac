#include "server/resources.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace edbp::server {

int SlotsNeeded(const JobResources& resources, bool has_gpus) {
  return has_gpus ? resources.workers * std::max(1, resources.gpus_per_worker)
                  : resources.workers;
}

absl::StatusOr<JobResources> ResolveResources(const v1::CreateJobRequest& request,
                                              int64_t batch_size,
                                              const ServerCapacity& capacity) {
  JobResources r;
  if (request.workers() < 0 || request.workers() > kMaxWorkers) {
    return absl::InvalidArgumentError(absl::StrCat("workers: expected 1 to ", kMaxWorkers,
                                                   ", got ", request.workers()));
  }
  r.workers = request.workers() == 0 ? 1 : request.workers();
  if (request.nodes() < 0 || request.nodes() > r.workers) {
    return absl::InvalidArgumentError(
        absl::StrCat("nodes: ", request.nodes(), " nodes for ", r.workers,
                     " worker(s); expected 1 to the worker count (a node runs at least "
                     "one worker)"));
  }
  r.nodes = request.nodes() == 0 ? 1 : request.nodes();
  const bool local = capacity.executor == ExecutorKind::kLocal;
  if (request.has_gpus_per_worker()) {
    if (request.gpus_per_worker() < 0 || request.gpus_per_worker() > kMaxGpusPerWorker) {
      return absl::InvalidArgumentError(absl::StrCat("gpus_per_worker: expected 0 to ",
                                                     kMaxGpusPerWorker, ", got ",
                                                     request.gpus_per_worker()));
    }
    r.gpus_per_worker = request.gpus_per_worker();
  } else {
    r.gpus_per_worker = local && capacity.has_gpus ? 1 : 0;
  }
  if (batch_size <= 0 || batch_size % r.workers != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Network.batch_size: ", batch_size, " is not divisible by ", r.workers,
        " workers (the batch is the global one, split evenly "
        "over the ranks)"));
  }
  if (!local) return r;
  if (r.nodes > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("nodes: ", r.nodes,
                     " nodes, but this server's local executor runs "
                     "jobs on its own machine only (edbp-server --executor slurm)"));
  }
  if (r.gpus_per_worker > 0 && !capacity.has_gpus) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gpus_per_worker: ", r.gpus_per_worker, ", but this server has no GPUs; use 0"));
  }
  const int need = SlotsNeeded(r, capacity.has_gpus);
  if (need > capacity.slots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workers: the job needs ", need, " ", capacity.has_gpus ? "GPU" : "CPU",
        " slots at once, this server has ", capacity.slots,
        capacity.has_gpus ? " (one per GPU)" : " (edbp-server --cpu-slots)"));
  }
  return r;
}

}  // namespace edbp::server

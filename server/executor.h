// Executors (issue 18): what starts a job's process(es), stops them, learns their end
// and, after a server restart, finds them again. The Scheduler decides what runs when;
// an Executor only runs it, so the Scheduler does not know which one it has:
// - LocalExecutor (server/local_executor.h): edbp-train, or `mpirun -np W edbp-train`,
//   as children of the server on its machine (they die with it and are re-queued);
// - SlurmExecutor (server/slurm_executor.h): one Slurm batch job per run, submitted
//   with sbatch; runs outlive the server, which re-attaches to them.
#ifndef EDBP_SERVER_EXECUTOR_H_
#define EDBP_SERVER_EXECUTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "edbp/v1/job.pb.h"
#include "server/launcher.h"
#include "server/resources.h"

namespace edbp::server {

// One run (attempt) of a job.
struct RunSpec {
  std::string job_id;
  int64_t attempt = 0;
  std::string workdir;                     // the job's directory (created if missing)
  std::string program;                     // edbp-train
  std::vector<std::string> args;           // its arguments (the same for every rank)
  std::map<std::string, std::string> env;  // added to the environment; may hold secrets
  JobResources resources;
  // Local executor: the device slots the Scheduler gave the run (SlotsNeeded of them).
  std::vector<std::string> slots;
};

// What a start tells the Scheduler.
struct RunStarted {
  std::string device;        // Job.device: "cpu:0", "cuda:0,cuda:1", "slurm:42"
  std::string slurm_job_id;  // Job.slurm_job_id ("" for the local executor)
};

// Called exactly once per successful Start or Reattach (unless the run outlives the
// server, see RunsOutliveServer), from an executor thread with no executor lock held.
// ExitInfo::exited && code == 0 means success; ExitInfo::Describe() says why not.
using RunEndCallback = std::function<void(const ExitInfo&)>;

class Executor {
 public:
  virtual ~Executor() = default;

  // Whether the Scheduler must give each run device slots (SlotsNeeded of them) and
  // hold them until its end. False: the executor's cluster queues runs itself.
  virtual bool UsesSlots() const = 0;

  // Whether runs go on when the server stops (a drain leaves them running; the next
  // server re-attaches with Reattach). False: they are stopped and re-queued.
  virtual bool RunsOutliveServer() const = 0;

  // Starts a run. Errors name what failed (a missing program, sbatch's message).
  virtual absl::StatusOr<RunStarted> Start(const RunSpec& spec,
                                           RunEndCallback on_end) = 0;

  // Asks the run of `job_id` to stop: SIGTERM (edbp-train checkpoints), then a hard
  // kill after `grace`. NOT_FOUND when the job has no run. Returns at once.
  virtual absl::Status Terminate(const std::string& job_id,
                                 std::chrono::milliseconds grace) = 0;

  // After a restart: follows the run of `job` (RUNNING in the store, Job.attempt its
  // latest run) when it still exists, and returns its RunStarted; "" device when there
  // is nothing to follow (the Scheduler re-queues the job). Never starts a run.
  virtual absl::StatusOr<RunStarted> Reattach(const v1::Job& job,
                                              RunEndCallback on_end) = 0;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_EXECUTOR_H_

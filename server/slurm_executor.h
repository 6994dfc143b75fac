// The Slurm executor (issue 18): each run of a job is one Slurm batch job.
//
// Start writes `<job dir>/slurm-job.sh` (mode 0600): #SBATCH lines from the job's
// resources (--ntasks = workers, --nodes, --gpus-per-task when > 0), --job-name
// SlurmJobName(...), --output/--open-mode=append to the job's train.log, --chdir the
// job's directory, the server's --slurm-partition/--slurm-account/--slurm-time/
// --slurm-extra, and `exec srun --mpi=pmix -K1 edbp-train ARGS`; then runs
// `sbatch --parsable --export=ALL` with the run's environment (RunSpec::env: its token
// travels in sbatch's environment, never on a command line or in the script) and
// returns Slurm's job id. The job directory (the server's --data-dir) must be on
// storage every node sees at the same path.
//
// One thread follows every run: `squeue --user=UID -h -t all` every `poll` (one call
// for all runs), and `scontrol show job -o ID` for a run that left the queue or
// reached an end state, whose JobState, Reason and ExitCode become the run's end
// (ExitInfo::detail). COMPLETED with ExitCode 0:0 is success. A failed squeue (the
// controller is away) ends nothing; it is tried again at the next poll.
//
// Terminate: `scancel --signal=TERM --full ID` (a pending job: `scancel ID` at once),
// then `scancel ID` when the grace period ends. Runs outlive the server: Reattach
// follows the run by its stored Slurm id, or, when the server died between sbatch and
// storing the id, by its unique job name (squeue --name), so no run is submitted
// twice. Thread-safe.
#ifndef EDBP_SERVER_SLURM_EXECUTOR_H_
#define EDBP_SERVER_SLURM_EXECUTOR_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/command.h"
#include "server/executor.h"

namespace edbp::server {

struct SlurmOptions {
  std::string data_dir;   // the server's data dir (its hash names the Slurm jobs)
  std::string partition;  // --slurm-partition; "" = the cluster's default
  std::string account;    // --slurm-account; ""
  std::string time;       // --slurm-time (Slurm's time formats); "" = the partition's
  std::vector<std::string> extra;  // --slurm-extra, split on whitespace
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds command_timeout{30000};  // of each Slurm command
};

// INVALID_ARGUMENT naming the flag (--slurm-partition, ...) for values a batch script
// must not hold: characters outside [A-Za-z0-9_.,:=/+@%-], a newline, an option that
// is not "--name[=value]" or "-x", options the executor sets itself (--job-name,
// --output, --ntasks, --nodes, --export, --chdir, --wrap, ...), more than 32 options.
absl::Status CheckSlurmOptions(const SlurmOptions& options);

// "edbp-<first 8 hex digits of SHA-256(data_dir)>-<job id>-<attempt>": unique per run
// and per server data dir on a cluster.
std::string SlurmJobName(const std::string& data_dir, const std::string& job_id,
                         int64_t attempt);

// The batch script of a run. INVALID_ARGUMENT naming --data-dir when the job's
// directory holds characters a #SBATCH line cannot carry (whitespace, quotes).
absl::StatusOr<std::string> SlurmBatchScript(const SlurmOptions& options,
                                             const RunSpec& spec);

// What `scontrol show job -o ID` says of a job's end.
struct SlurmJobEnd {
  std::string state;      // JobState, e.g. COMPLETED, TIMEOUT, CANCELLED
  std::string reason;     // Reason, e.g. None, TimeLimit, NonZeroExitCode
  std::string exit_code;  // ExitCode "status:signal", e.g. 0:0, 1:0, 0:15
};
SlurmJobEnd ParseScontrolJob(const std::string& text);
// Whether a squeue/scontrol JobState is final.
bool IsSlurmEndState(const std::string& state);

class SlurmExecutor final : public Executor {
 public:
  explicit SlurmExecutor(SlurmOptions options) : options_(std::move(options)) {}
  ~SlurmExecutor() override;  // stops following; the runs go on in Slurm

  bool UsesSlots() const override { return false; }
  bool RunsOutliveServer() const override { return true; }
  absl::StatusOr<RunStarted> Start(const RunSpec& spec, RunEndCallback on_end) override;
  absl::Status Terminate(const std::string& job_id,
                         std::chrono::milliseconds grace) override;
  absl::StatusOr<RunStarted> Reattach(const v1::Job& job, RunEndCallback on_end) override;

 private:
  struct Tracked {
    std::string slurm_id;
    RunEndCallback on_end;
    bool kill_pending = false;
    std::chrono::steady_clock::time_point kill_at;
  };
  void Follow(const std::string& job_id, const std::string& slurm_id,
              RunEndCallback on_end);
  void PollLoop();
  // One round: ends the runs that Slurm ended, sends the due hard kills.
  void PollOnce();
  absl::StatusOr<CommandResult> Slurm(const std::vector<std::string>& argv,
                                      const std::map<std::string, std::string>& env = {});

  const SlurmOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(mu_);  // job id → run
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread poller_;  // started by the first Follow
  std::once_flag poller_once_;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_SLURM_EXECUTOR_H_

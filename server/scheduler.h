// The scheduler: a queue ordered by priority (higher first) then submission order,
// device slots (one per GPU, or --cpu-slots on a machine without GPUs), and the life
// of each job's run, started by an Executor (server/executor.h: local processes or
// Slurm jobs; the scheduler does not know which).
//
// Gang start (issue 18): a job of W workers takes SlotsNeeded (server/resources.h)
// slots at once, never part of them. The queue is served strictly in order: when its
// head does not fit in the free slots, nothing behind it starts, so the slots that
// free up go to it and a wide job waits at most for the runs ahead of it to end (no
// starvation behind a stream of 1-slot jobs of the same priority; a higher priority
// still goes first). An executor that queues runs itself (Slurm) gets every queued job
// at once.
//
// Every state change is written to the JobStore and published as a StateChange event
// through the MetricsHub. Thread-safe.
#ifndef EDBP_SERVER_SCHEDULER_H_
#define EDBP_SERVER_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "edbp/v1/job.pb.h"
#include "server/executor.h"
#include "server/job_store.h"
#include "server/metrics_hub.h"
#include "server/store_health.h"

namespace edbp::server {

struct SchedulerOptions {
  std::string data_dir;        // jobs run in <data_dir>/jobs/<id>/
  std::string train_program;   // path of edbp-train
  std::string worker_address;  // the WorkerService target passed as --report-to
  // PEM CA file a run verifies the worker port's TLS certificate with (passed in its
  // environment as EDBP_WORKER_CA); "" when the worker address needs none.
  std::string worker_ca;
  // Device slots, e.g. {"cpu:0"} or {"cuda:0", "cuda:1"}; one job per slot at a time.
  std::vector<std::string> slots;
  std::chrono::milliseconds grace{30000};  // SIGTERM → SIGKILL on cancel / shutdown
  int64_t checkpoint_every = 0;  // edbp-train --checkpoint-every (0: epoch ends only)
  // Told of every write of a job's state (may be null; not owned).
  StoreHealth* store_health = nullptr;
  // How often a job's end that could not be stored is tried again.
  std::chrono::milliseconds store_retry{1000};
  // Retention of ended jobs (edbp-server --keep-jobs, --keep-days): after a job ends
  // and at start-up, the ended jobs beyond the newest `keep_jobs` (by end time; 0: no
  // bound), and those that ended more than `keep_age` ago (0: no bound), are deleted
  // as by Delete. The ended trials of a sweep that still has a QUEUED or RUNNING trial
  // are neither deleted nor counted until the sweep has ended.
  int64_t keep_jobs = 0;
  std::chrono::seconds keep_age{0};
};

// What Delete removed.
struct Deleted {
  std::string id;
  int64_t freed_bytes = 0;  // of the job's directory
};

class Scheduler {
 public:
  Scheduler(JobStore* store, MetricsHub* hub, Executor* executor,
            SchedulerOptions options)
      : store_(store), hub_(hub), executor_(executor), options_(std::move(options)) {}
  ~Scheduler();  // stops the retries of unstored ends

  // At start-up: jobs left RUNNING by a previous server are followed again when their
  // run outlived it (Executor::Reattach: a Slurm job), else re-queued (they resume from
  // their last checkpoint); QUEUED jobs are queued again; then scheduling starts.
  absl::Status Recover();

  // Told of each epoch record that a job's spool delivered (IngestSpool: what its
  // process could not report live), once per record stored now, after the scheduler's
  // lock is released: the sweeps' early-stopping policy judges these epochs as it
  // judges live reports (WorkerServiceImpl::Report). Set once, before Recover.
  using EpochListener =
      std::function<void(const std::string& job_id, const v1::EpochMetrics& metrics)>;
  void SetSpooledEpochListener(EpochListener listener) {
    spooled_epoch_listener_ = std::move(listener);
  }

  // Stores a new QUEUED job (or returns the one created before with `request_id`) and
  // schedules. Returns the job and whether it was created now. `init_weights`: a
  // checkpoint (another job's, job.init_from) linked into the new job's directory as
  // kInitWeightsFile before it can start, under the lock that Delete takes, so the
  // source cannot vanish in between; the job's runs start from it (edbp-train
  // --init-weights) unless they resume. A link that fails ends the job FAILED.
  absl::StatusOr<std::pair<v1::Job, bool>> Submit(v1::Job job,
                                                  const std::string& request_id,
                                                  const std::string& init_weights = "");

  // QUEUED: CANCELLED at once. RUNNING: SIGTERM (checkpoint at the next batch), SIGKILL
  // after the grace period; CANCELLED when the process ends. Ended jobs:
  // FAILED_PRECONDITION.
  // `reason` becomes the job's error (a sweep's early stop says why).
  absl::StatusOr<v1::Job> Cancel(const std::string& job_id,
                                 const std::string& reason = "cancelled by a client");

  // CANCELLED or FAILED: QUEUED again with the same config, seed and resources; its
  // next run continues from the job's last checkpoint (edbp-train
  // --resume-if-present), or from the start where none was written. A LogLine says
  // which. Other states, or an end not stored yet: FAILED_PRECONDITION.
  absl::StatusOr<v1::Job> Resume(const std::string& job_id);

  // Removes an ended job: its rows (JobStore::DeleteJob), the hub's cache of it, then
  // its directory. QUEUED/RUNNING, an end not stored yet, or a process (of an earlier
  // attempt) still holding the directory's lock: FAILED_PRECONDITION. A directory left
  // by a server that died between the two steps is removed at the next Recover (ids
  // are never reused, so a directory without a job is a deleted job's).
  absl::StatusOr<Deleted> Delete(const std::string& job_id);

  // Graceful shutdown: no new starts; running jobs get SIGTERM (they checkpoint) and
  // are re-queued when they exit; waits up to the grace period for them. Runs that
  // outlive the server (Slurm) are left running, RUNNING in the store.
  void Drain();

  // A job whose process ended while the store could not write (a full disk, an I/O
  // error) keeps its end here: watchers are interrupted with the reason
  // (MetricsHub::Interrupt), the store is reported unhealthy, and the end is written,
  // with its event, every `store_retry` until the store takes it. Until then the job
  // reads as RUNNING with no process, and CancelJob is FAILED_PRECONDITION.
  // UNAVAILABLE with the reason while job_id's end waits for the store, else OK.
  absl::Status EndPending(const std::string& job_id);

  // Whether a report of `attempt` of `job_id` is the running process's (for the worker
  // service): NOT_FOUND when the job has no process, ABORTED when another attempt runs
  // (a process left from an earlier run: it keeps the report in its spool).
  absl::Status CheckReporter(const std::string& job_id, int64_t attempt);

 private:
  struct Running {
    std::vector<std::string> slots;  // none with an executor that queues itself
    bool cancel_requested = false;
    int64_t attempt = 0;        // Job.attempt of this process
    std::string cancel_reason;  // the error of the CANCELLED job once it exits
  };
  // (-priority, id) orders the queue.
  using QueueKey = std::pair<int64_t, int64_t>;

  // Writes the job's state and its StateChange event, and tells store_health.
  absl::Status SetState(v1::Job& job, v1::JobState state, const std::string& error);
  absl::Status SetStateOnce(v1::Job& job, v1::JobState state, const std::string& error);
  void TrySchedule() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Start(const std::string& job_id, const std::vector<std::string>& slots)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnExit(const std::string& job_id, const ExitInfo& exit);
  void OnExitLocked(const std::string& job_id, const ExitInfo& exit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delete's checks and rows; returns the directory to remove (after mu_ is released).
  absl::StatusOr<std::filesystem::path> DeleteLocked(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The retention policy's deletions (rows); returns the directories to remove.
  std::vector<std::filesystem::path> RetainLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes job directories whose job is not in the store (Delete interrupted).
  void RemoveOrphanDirectories() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes a job's end; when the store refuses it, keeps it for the retrier.
  void EndJob(v1::Job& job, const std::string& id, v1::JobState state,
              const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RetryLoop();
  // Stores, in order, the events an ended process left in its job directory's spool
  // (worker/report_spool.h); records stored before are skipped. The epoch records
  // stored now are queued in spooled_epochs_ for the listener.
  void IngestSpool(const std::string& job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobStore* const store_;
  MetricsHub* const hub_;
  Executor* const executor_;
  const SchedulerOptions options_;

  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::set<QueueKey> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Running> running_ ABSL_GUARDED_BY(mu_);  // job id → its run
  std::set<std::string> busy_slots_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  struct PendingEnd {
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
    std::string error;
    absl::Status why;  // what the job's watchers are told
  };
  std::map<std::string, PendingEnd> pending_ends_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  EpochListener spooled_epoch_listener_;
  // Epoch records IngestSpool stored, for the listener once mu_ is released.
  std::vector<std::pair<std::string, v1::EpochMetrics>> spooled_epochs_
      ABSL_GUARDED_BY(mu_);
  std::condition_variable retry_cv_;
  std::thread retrier_;  // started by the first unstored end
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_SCHEDULER_H_

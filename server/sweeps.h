// Sweeps (issue 19): a hyper-parameter search whose trials are ordinary jobs. The
// manager plans and validates the trials (server/sweep_plan.h) before any job exists,
// queues one job per trial through the scheduler, answers for the sweep's state from
// its trials' jobs, and applies its early-stopping policy (server/early_stopping.h) at
// each epoch a trial reports: a stopped trial is cancelled with the error "stopped
// early by sweep N: <why>".
//
// Thread-safe. The trials' accuracy curves are kept in memory per sweep, loaded from
// the store's events the first time the sweep needs them (also after a restart).
#ifndef EDBP_SERVER_SWEEPS_H_
#define EDBP_SERVER_SWEEPS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "edbp/v1/sweep.pb.h"
#include "edbp/v1/training_service.pb.h"
#include "server/early_stopping.h"
#include "server/job_store.h"
#include "server/scheduler.h"

namespace edbp::server {

// The error prefix of a trial the policy stopped ("stopped early by sweep 3: ...").
std::string StoppedEarlyPrefix(int64_t sweep_id);

// "sweeps/{id}" -> id; INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> SweepIdFromName(const std::string& name);

class SweepManager {
 public:
  // What CreateJob does with a request before it queues it (config checks, data
  // roots, memory, resources, seed): the draft job, or the error naming the field.
  using DraftJob = std::function<absl::StatusOr<v1::Job>(const v1::CreateJobRequest&)>;

  SweepManager(JobStore* store, Scheduler* scheduler, DraftJob draft)
      : store_(store), scheduler_(scheduler), draft_(std::move(draft)) {}

  absl::StatusOr<v1::Sweep> Create(const v1::CreateSweepRequest& request);
  // The stored sweep with its output fields computed from its trials' jobs now.
  absl::StatusOr<v1::Sweep> Get(const std::string& name);
  // Newest first; the token is the last id of the page ("" when no more).
  absl::StatusOr<std::pair<std::vector<v1::Sweep>, std::string>> List(
      int page_size, const std::string& page_token);
  absl::StatusOr<v1::Sweep> Cancel(const std::string& name);

  // A trial (or any job: others are ignored) reported epoch `metrics`.
  void OnEpoch(const std::string& job_id, const v1::EpochMetrics& metrics);

 private:
  // The sweep's curves, loaded from the store's events when absent.
  std::map<std::string, AccuracyCurve>& CurvesOf(const v1::Sweep& sweep, int64_t id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobStore* const store_;
  Scheduler* const scheduler_;
  const DraftJob draft_;
  std::mutex mu_;
  // sweep id -> trial job id -> its test accuracy per finished epoch.
  std::map<int64_t, std::map<std::string, AccuracyCurve>> curves_ ABSL_GUARDED_BY(mu_);
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_SWEEPS_H_

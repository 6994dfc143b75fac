// The job table of the dashboard: ListJobs polled on a background thread, with the
// latest progress of every RUNNING job (followed through a JobStream from its first
// event) and its time to the end by the rule of the job view, the CLI's watch and
// submit --follow (client/common/job_eta.h).
#ifndef EDBP_CLIENT_DASHBOARD_JOBS_MONITOR_H_
#define EDBP_CLIENT_DASHBOARD_JOBS_MONITOR_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/common/job_eta.h"
#include "client/common/job_stream.h"
#include "edbp/v1/training_service.grpc.pb.h"

namespace edbp::dashboard {

// Polls edbp-server every `poll_interval` (and at once after Wake()). Thread-safe;
// `stub` must outlive the monitor.
class JobsMonitor {
 public:
  JobsMonitor(v1::TrainingService::StubInterface* stub, absl::Duration poll_interval,
              absl::Duration rpc_timeout, client::Backoff backoff);
  // Stops the thread and the followers, and waits for them.
  ~JobsMonitor();
  JobsMonitor(const JobsMonitor&) = delete;
  JobsMonitor& operator=(const JobsMonitor&) = delete;

  // The latest table as one JSON object:
  //   {"reachable": bool,        false until the first answer and after a failed poll
  //    "error": "...",           why the last poll failed ("" when it did not)
  //    "polls": n,               polls finished so far
  //    "jobs": [ Job (proto field names, int64 as strings; config_yaml "") plus
  //              "progress": Progress | null   the latest, RUNNING jobs only
  //              "eta_seconds": number | null  to the end of the job after its
  //                                            latest progress record (JobEta) ]}
  // The jobs are those of the last successful poll, newest first.
  std::string SnapshotJson();

  // Polls now instead of at the next interval (after a submit or a cancel).
  void Wake();

 private:
  // A RUNNING job's stream from its first event (every finished epoch's seconds make
  // the pace) and what it said so far.
  struct Follower {
    std::unique_ptr<client::JobStream> stream;
    std::optional<v1::Progress> progress;
    client::JobEta eta;
  };

  void Run();
  void Poll();
  // Takes what the followers' streams delivered. Needs mu_.
  void DrainFollowers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::TrainingService::StubInterface* const stub_;
  const absl::Duration poll_interval_;
  const absl::Duration rpc_timeout_;
  const client::Backoff backoff_;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool reachable_ ABSL_GUARDED_BY(mu_) = false;
  std::string error_ ABSL_GUARDED_BY(mu_);
  int64_t polls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<v1::Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Follower> followers_ ABSL_GUARDED_BY(mu_);  // by job name

  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_JOBS_MONITOR_H_

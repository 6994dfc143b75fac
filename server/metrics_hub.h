// The per-job ordered event log: assigns sequence numbers, persists every event in the
// JobStore before anyone sees it, keeps each job's events in memory for replays, and
// wakes the watchers waiting for more.
//
// Thread-safe. Sequence numbers continue from the store after a restart (no gaps, no
// repeats).
#ifndef EDBP_SERVER_METRICS_HUB_H_
#define EDBP_SERVER_METRICS_HUB_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "edbp/v1/training_service.pb.h"
#include "server/job_store.h"

namespace edbp::server {

class MetricsHub {
 public:
  explicit MetricsHub(JobStore* store) : store_(store) {}

  // Sets event.job, the next sequence and the time, stores it, updates the job's
  // summary (last_epoch, best_test_accuracy from epoch metrics), and wakes watchers.
  // Returns the stored event. Errors: those of the store (nothing is published then).
  absl::StatusOr<v1::Event> Append(const std::string& job_id, v1::Event event);

  struct ReadResult {
    std::vector<v1::Event> events;  // sequence >= from, in order
    bool ended = false;  // the job has ended and `events` reaches its last event
  };
  // Waits until the job has an event with sequence >= `from`, it has ended, or
  // `deadline` passes, then returns what there is (at most `limit` events).
  absl::StatusOr<ReadResult> WaitRead(const std::string& job_id, int64_t from, int limit,
                                      std::chrono::steady_clock::time_point deadline);

  // Wakes every waiter (server shutdown).
  void WakeAll();

 private:
  struct JobLog {
    std::vector<v1::Event> events;  // all events, events[i].sequence == i + 1
    bool ended = false;
  };
  // Loads the job's log from the store on first use. Requires mu_.
  absl::StatusOr<JobLog*> LogOf(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobStore* const store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<JobLog>> logs_ ABSL_GUARDED_BY(mu_);
};

// Whether a state is final (SUCCEEDED, FAILED, CANCELLED).
bool IsTerminal(v1::JobState state);

}  // namespace edbp::server

#endif  // EDBP_SERVER_METRICS_HUB_H_

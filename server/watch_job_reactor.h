// One WatchJob stream on gRPC's callback API (STYLE.md habit 10): the job's events
// from a sequence number, the replay then the live ones, until the job ends.
//
// No thread is held while the stream waits: the reactor subscribes to the MetricsHub
// and is told of each event as it commits. One write is in flight at a time; the next
// events wait in a small buffer (at most kMaxPending), and a reactor that falls behind
// (its buffer full, or a sequence skipped) reads the missed events itself from the hub
// -- its cache or the store -- when its write completes, so a slow watcher never holds
// up Append or the other watchers. The reactor deletes itself in OnDone.
//
// The stream ends with OK after the job's final event, CANCELLED when the client goes
// away, UNAVAILABLE "the server is shutting down" once `shutting_down` is set and the
// hub's WakeAll called, or the hub's error.
#ifndef EDBP_SERVER_WATCH_JOB_REACTOR_H_
#define EDBP_SERVER_WATCH_JOB_REACTOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "edbp/v1/training_service.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/metrics_hub.h"
#include "server/prometheus_metrics.h"

namespace edbp::server {

class WatchJobReactor final : public grpc::ServerWriteReactor<v1::Event>,
                              private MetricsHub::Subscriber {
 public:
  // Events read from the hub at once, and buffered at most.
  static constexpr int kMaxPending = 32;

  // Streams job `job_id` (known to exist) from sequence `from` (values below 1: 1).
  // `hub`, `metrics` (may be null) and `shutting_down` outlive every reactor (the
  // server shuts down before they go). Counts a watcher on `metrics` until OnDone, and
  // each event written.
  WatchJobReactor(MetricsHub* hub, ServerMetrics* metrics,
                  const std::atomic<bool>* shutting_down, std::string job_id,
                  int64_t from);
  // A stream that ends at once with `error`, streaming nothing and counting nothing.
  explicit WatchJobReactor(const grpc::Status& error);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void OnAppended(const v1::Event& event) override;
  void OnWake() override;
  // Finishes the stream with UNAVAILABLE and `why`'s message.
  void OnInterrupted(const absl::Status& why) override;
  // Starts the next write, read or Finish, unless a write or read is under way or the
  // stream has finished. Never called with mu_ held.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);

  MetricsHub* const hub_ = nullptr;
  ServerMetrics* const metrics_ = nullptr;
  const std::atomic<bool>* const shutting_down_ = nullptr;
  const std::string job_id_;
  const bool subscribed_ = false;

  absl::Mutex mu_;
  v1::Event current_ ABSL_GUARDED_BY(mu_);  // the message of the write in flight
  std::deque<v1::Event> pending_ ABSL_GUARDED_BY(mu_);  // to write, in order
  int64_t next_ ABSL_GUARDED_BY(mu_) = 1;  // the sequence after the last one buffered
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;   // a hub Read runs outside mu_
  bool need_read_ ABSL_GUARDED_BY(mu_) = true;  // the hub may have events not buffered
  bool ended_ ABSL_GUARDED_BY(mu_) = false;     // the job's final event is buffered
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> error_ ABSL_GUARDED_BY(mu_);  // the hub's, to finish with
  bool finished_ ABSL_GUARDED_BY(mu_) = false;              // Finish was called
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_WATCH_JOB_REACTOR_H_

// One job's event stream from edbp-server, followed on a background thread: the replay
// from a sequence number, then the live events, across server restarts.
#ifndef EDBP_CLIENT_DASHBOARD_JOB_STREAM_H_
#define EDBP_CLIENT_DASHBOARD_JOB_STREAM_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace edbp::dashboard {

// How long each attempt to reach an unreachable server waits: `initial`, doubling up
// to `max`; back to `initial` once a stream delivers events again.
struct Backoff {
  absl::Duration initial = absl::Milliseconds(250);
  absl::Duration max = absl::Seconds(2);
};

// What a JobStream yields, in this order: events (sequence numbers increasing without
// gaps), interleaved with kUnreachable/kReachable pairs, then at most one kEnd or
// kError, after which nothing follows.
struct StreamItem {
  enum class Kind {
    kEvent,        // `event` is the job's next event
    kUnreachable,  // the server cannot be reached (`message` says why); retrying
    kReachable,    // the server answers again after kUnreachable
    kEnd,          // the job ended and all its events were delivered
    kError,        // a definitive error, e.g. NOT_FOUND (`message`); no retry
  };
  Kind kind = Kind::kEvent;
  v1::Event event;
  std::string message;
};

// Follows WatchJob(job, from_sequence) on its own thread. Streams that break because the
// server went away (UNAVAILABLE, INTERNAL, ...) are resumed after the last delivered
// event. Until then GetJob probes the server, each probe waiting up to the backoff
// delay for a connection (so a server that is back is seen at once, and reported as
// kReachable even before the job has a new event). Answers
// that retrying cannot change (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED,
// UNAUTHENTICATED, UNIMPLEMENTED, FAILED_PRECONDITION) end the stream with kError.
//
// At most kMaxQueued items wait for Next(); the reader then waits (backpressure).
// Thread-safe; `stub` must outlive the JobStream.
class JobStream {
 public:
  static constexpr size_t kMaxQueued = 1024;

  JobStream(v1::TrainingService::StubInterface* stub, std::string job,
            int64_t from_sequence, Backoff backoff, absl::Duration rpc_timeout);
  // Stop(), then waits for the thread.
  ~JobStream();
  JobStream(const JobStream&) = delete;
  JobStream& operator=(const JobStream&) = delete;

  // The next item, waiting up to `timeout`; nullopt when none came in time, and
  // always after the final kEnd/kError was taken or after Stop().
  std::optional<StreamItem> Next(absl::Duration timeout);

  // Cancels the call in flight; the thread ends soon after. Idempotent.
  void Stop();

  // Items waiting for Next() (at most kMaxQueued).
  size_t Queued();

 private:
  void Run();
  // One WatchJob call from next_sequence_; returns its final status. `got_events`:
  // at least one new event arrived.
  grpc::Status WatchOnce(bool* got_events);
  // Queues `item`, waiting while the queue is full; false when stopped.
  bool Push(StreamItem item);
  bool Stopped();
  // Sleeps `delay` unless stopped first; false when stopped.
  bool SleepUnlessStopped(absl::Duration delay);

  v1::TrainingService::StubInterface* const stub_;
  const std::string job_;
  const Backoff backoff_;
  const absl::Duration rpc_timeout_;
  int64_t next_sequence_;  // only the thread touches it

  absl::Mutex mu_;
  std::deque<StreamItem> queue_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // the thread queued its last item
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // the call in flight
                                                                 // (Stop cancels it)

  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_JOB_STREAM_H_

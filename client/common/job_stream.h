// One job's event stream from edbp-server, followed on a background thread: the replay
// from a sequence number, then the live events, across server restarts. The one
// WatchJob follower of every client: `edbp-client watch`/`logs` and the dashboard's
// relays and job table differ only in their FollowPolicy.
#ifndef EDBP_CLIENT_COMMON_JOB_STREAM_H_
#define EDBP_CLIENT_COMMON_JOB_STREAM_H_

#include <cstddef>
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

namespace edbp::client {

// How long to wait between attempts to reach an unreachable server: `initial`,
// doubling up to `max`; back to `initial` once a stream delivers events again.
struct Backoff {
  absl::Duration initial = absl::Milliseconds(250);
  absl::Duration max = absl::Seconds(2);
};

// When a JobStream retries and when it gives up. The defaults (the dashboard's) retry
// for ever: a page stays open across any outage.
struct FollowPolicy {
  Backoff backoff;
  // End with kError at once when the first attempt fails before the server ever
  // answered, instead of retrying: for a command line, an address where nothing
  // answers is the user's to fix, not an outage to wait out. A caller that already
  // reached the server (e.g. with GetJob) leaves it false.
  bool fail_if_never_reached = false;
  // Consecutive failed attempts (broken streams and unanswered probes) without a new
  // event after which the stream ends with kError carrying the last failure; 0: never.
  int max_failed_attempts = 0;
  // How long each probe of an unreachable server waits for it to accept a connection;
  // zero: the current backoff delay.
  absl::Duration probe_wait = absl::ZeroDuration();
};

// What a JobStream yields, in this order: events (sequence numbers increasing without
// gaps), interleaved with kUnreachable/kReachable pairs, then at most one kEnd or
// kError, after which nothing follows.
struct StreamItem {
  enum class Kind {
    kEvent,        // `event` is the job's next event
    kUnreachable,  // the server cannot be reached (`status` says why); retrying
    kReachable,    // the server answers again after kUnreachable
    kEnd,          // the job ended and all its events were delivered
    kError,        // a definitive error, e.g. NOT_FOUND, or the policy gave up
  };
  Kind kind = Kind::kEvent;
  v1::Event event;
  grpc::Status status;  // kUnreachable, kError: the failure
  std::string message;  // kUnreachable, kError: DescribeStatus(status)
};

// Follows WatchJob(job, from_sequence) on its own thread. Streams that break because the
// server went away (UNAVAILABLE, INTERNAL, ...) are resumed after the last delivered
// event. Until then GetJob probes the server, each probe waiting up to
// FollowPolicy::probe_wait for a connection (so a server that is back is seen at once,
// and reported as kReachable even before the job has a new event). Answers that
// retrying cannot change (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED,
// UNAUTHENTICATED, UNIMPLEMENTED, FAILED_PRECONDITION) end the stream with kError, and
// so does the policy's limit on failed attempts.
//
// At most kMaxQueued items wait for Next(); the reader then waits (backpressure).
// Thread-safe; `stub` must outlive the JobStream.
class JobStream {
 public:
  static constexpr size_t kMaxQueued = 1024;

  JobStream(v1::TrainingService::StubInterface* stub, std::string job,
            int64_t from_sequence, FollowPolicy policy);
  // Stop(), then waits for the thread.
  ~JobStream();
  JobStream(const JobStream&) = delete;
  JobStream& operator=(const JobStream&) = delete;

  // The next item, waiting up to `timeout` (absl::InfiniteDuration(): until one comes);
  // nullopt when none came in time, and always after the final kEnd/kError was taken
  // or after Stop().
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
  // One GetJob call that waits up to `wait` for a connection.
  grpc::Status Probe(absl::Duration wait);
  // Counts a failed attempt; true (and kError queued) when the policy gives up.
  bool GiveUpAfter(const grpc::Status& status);
  // Queues `item`, waiting while the queue is full; false when stopped.
  bool Push(StreamItem item);
  bool Stopped();
  // Sleeps `delay` unless stopped first; false when stopped.
  bool SleepUnlessStopped(absl::Duration delay);

  v1::TrainingService::StubInterface* const stub_;
  const std::string job_;
  const FollowPolicy policy_;
  // Only the thread touches these three.
  int64_t next_sequence_;
  bool reached_ = false;     // the server answered at least once
  int failed_attempts_ = 0;  // consecutive, without a new event

  absl::Mutex mu_;
  std::deque<StreamItem> queue_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // the thread queued its last item
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // the call in flight
                                                                 // (Stop cancels it)

  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace edbp::client

#endif  // EDBP_CLIENT_COMMON_JOB_STREAM_H_

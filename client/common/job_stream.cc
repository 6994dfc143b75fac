#include "client/dashboard/job_stream.h"

#include <algorithm>
#include <utility>

#include "client/common/json.h"

namespace edbp::dashboard {

using client::DescribeStatus;
namespace {

// Answers that another attempt cannot change.
bool IsDefinitive(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return true;
    default:
      return false;
  }
}

StreamItem Item(StreamItem::Kind kind, std::string message = "") {
  StreamItem item;
  item.kind = kind;
  item.message = std::move(message);
  return item;
}

}  // namespace

JobStream::JobStream(v1::TrainingService::StubInterface* stub, std::string job,
                     int64_t from_sequence, Backoff backoff, absl::Duration rpc_timeout)
    : stub_(stub),
      job_(std::move(job)),
      backoff_(backoff),
      rpc_timeout_(rpc_timeout),
      next_sequence_(std::max<int64_t>(from_sequence, 1)),
      thread_([this] { Run(); }) {}

JobStream::~JobStream() {
  Stop();
  thread_.join();
}

void JobStream::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

size_t JobStream::Queued() {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool JobStream::Stopped() {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

bool JobStream::SleepUnlessStopped(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopped_), delay);
  return !stopped_;
}

bool JobStream::Push(StreamItem item) {
  absl::MutexLock lock(&mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || queue_.size() < kMaxQueued;
  };
  mu_.Await(absl::Condition(&room));
  if (stopped_) return false;
  const bool last =
      item.kind == StreamItem::Kind::kEnd || item.kind == StreamItem::Kind::kError;
  queue_.push_back(std::move(item));
  if (last) finished_ = true;
  return true;
}

std::optional<StreamItem> JobStream::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopped_ || finished_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty() || stopped_) return std::nullopt;
  StreamItem item = std::move(queue_.front());
  queue_.pop_front();
  return item;
}

grpc::Status JobStream::WatchOnce(bool* got_events) {
  *got_events = false;
  grpc::ClientContext context;  // no deadline: the stream lasts as long as the job
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return grpc::Status::CANCELLED;
    context_ = &context;
  }
  v1::WatchJobRequest request;
  request.set_name(job_);
  request.set_from_sequence(next_sequence_);
  std::unique_ptr<grpc::ClientReaderInterface<v1::Event>> reader =
      stub_->WatchJob(&context, request);
  v1::Event event;
  bool consumer_gone = false;
  while (!consumer_gone && reader->Read(&event)) {
    if (event.sequence() < next_sequence_) continue;  // delivered before a reconnect
    next_sequence_ = event.sequence() + 1;
    *got_events = true;
    StreamItem item;
    item.event = std::move(event);
    if (!Push(std::move(item))) {
      consumer_gone = true;
      context.TryCancel();
    }
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  if (stopped_) return grpc::Status::CANCELLED;
  return status;
}

void JobStream::Run() {
  bool reachable = true;  // until an attempt fails
  absl::Duration delay = backoff_.initial;
  while (!Stopped()) {
    if (!reachable) {
      // Is the server back? GetJob answers even while the job has no new events. It
      // waits for a connection (up to `delay`), so a server that comes back is seen at
      // once, not at the next attempt.
      grpc::ClientContext probe;
      probe.set_wait_for_ready(true);
      const absl::Time deadline = absl::Now() + delay;
      probe.set_deadline(absl::ToChronoTime(deadline));
      {
        absl::MutexLock lock(&mu_);
        if (stopped_) return;
        context_ = &probe;
      }
      v1::GetJobRequest request;
      request.set_name(job_);
      v1::Job job;
      const grpc::Status status = stub_->GetJob(&probe, request, &job);
      {
        absl::MutexLock lock(&mu_);
        context_ = nullptr;
        if (stopped_) return;
      }
      if (IsDefinitive(status.error_code())) {
        Push(Item(StreamItem::Kind::kError, DescribeStatus(status)));
        return;
      }
      if (!status.ok()) {
        // An answer that came before the deadline (e.g. the server is shutting down)
        // still waits out the delay.
        if (!SleepUnlessStopped(deadline - absl::Now())) return;
        delay = std::min(delay * 2, backoff_.max);
        continue;
      }
      reachable = true;
      if (!Push(Item(StreamItem::Kind::kReachable))) return;
    }
    bool got_events = false;
    const absl::Time watch_start = absl::Now();
    const grpc::Status status = WatchOnce(&got_events);
    if (Stopped()) return;
    if (got_events) delay = backoff_.initial;
    if (status.ok()) {
      Push(Item(StreamItem::Kind::kEnd));
      return;
    }
    if (IsDefinitive(status.error_code())) {
      Push(Item(StreamItem::Kind::kError, DescribeStatus(status)));
      return;
    }
    // The server went away (or never answered): report it once per outage, retry. A
    // server that answers GetJob but refuses streams (it is shutting down) is not
    // asked more often than every `delay`.
    reachable = false;
    if (!Push(Item(StreamItem::Kind::kUnreachable, DescribeStatus(status)))) return;
    if (!got_events) {
      if (!SleepUnlessStopped(delay - (absl::Now() - watch_start))) return;
      delay = std::min(delay * 2, backoff_.max);
    }
  }
}

}  // namespace edbp::dashboard

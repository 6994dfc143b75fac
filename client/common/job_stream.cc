#include "client/common/job_stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/common/json.h"

namespace edbp::client {
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

StreamItem Item(StreamItem::Kind kind, grpc::Status status = grpc::Status::OK,
                std::string message = "") {
  StreamItem item;
  item.kind = kind;
  if (message.empty() && !status.ok()) message = DescribeStatus(status);
  item.status = std::move(status);
  item.message = std::move(message);
  return item;
}

}  // namespace

JobStream::JobStream(v1::TrainingService::StubInterface* stub, std::string job,
                     int64_t from_sequence, FollowPolicy policy)
    : stub_(stub),
      job_(std::move(job)),
      policy_(policy),
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

grpc::Status JobStream::Probe(absl::Duration wait) {
  grpc::ClientContext probe;
  probe.set_wait_for_ready(true);
  probe.set_deadline(absl::ToChronoTime(absl::Now() + wait));
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return grpc::Status::CANCELLED;
    context_ = &probe;
  }
  v1::GetJobRequest request;
  request.set_name(job_);
  v1::Job job;
  grpc::Status status = stub_->GetJob(&probe, request, &job);
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  if (stopped_) return grpc::Status::CANCELLED;
  return status;
}

bool JobStream::GiveUpAfter(const grpc::Status& status) {
  ++failed_attempts_;
  if (policy_.max_failed_attempts <= 0 ||
      failed_attempts_ < policy_.max_failed_attempts) {
    return false;
  }
  Push(Item(StreamItem::Kind::kError, status,
            absl::StrCat(DescribeStatus(status), " (gave up after ", failed_attempts_,
                         failed_attempts_ == 1 ? " attempt)" : " attempts)")));
  return true;
}

void JobStream::Run() {
  bool reachable = true;  // until an attempt fails
  absl::Duration delay = policy_.backoff.initial;
  while (!Stopped()) {
    if (!reachable) {
      // Is the server back? GetJob answers even while the job has no new events. It
      // waits for a connection, so a server that comes back is seen at once, not at
      // the next attempt.
      const absl::Time probe_start = absl::Now();
      const grpc::Status status =
          Probe(policy_.probe_wait > absl::ZeroDuration() ? policy_.probe_wait : delay);
      if (Stopped()) return;
      if (IsDefinitive(status.error_code())) {
        Push(Item(StreamItem::Kind::kError, status));
        return;
      }
      if (!status.ok()) {
        if (GiveUpAfter(status)) return;
        // An answer that came at once (e.g. the server is shutting down) still waits
        // out the delay.
        if (!SleepUnlessStopped(probe_start + delay - absl::Now())) return;
        delay = std::min(delay * 2, policy_.backoff.max);
        continue;
      }
      reached_ = true;
      reachable = true;
      if (!Push(Item(StreamItem::Kind::kReachable))) return;
    }
    bool got_events = false;
    const absl::Time watch_start = absl::Now();
    const grpc::Status status = WatchOnce(&got_events);
    if (Stopped()) return;
    if (got_events) {
      reached_ = true;
      failed_attempts_ = 0;
      delay = policy_.backoff.initial;
    }
    if (status.ok()) {
      Push(Item(StreamItem::Kind::kEnd));
      return;
    }
    if (IsDefinitive(status.error_code()) ||
        (!reached_ && policy_.fail_if_never_reached)) {
      Push(Item(StreamItem::Kind::kError, status));
      return;
    }
    if (GiveUpAfter(status)) return;
    // The server went away (or never answered): report it once per outage, retry. A
    // server that answers GetJob but refuses streams (it is shutting down) is not
    // asked more often than every `delay`.
    reachable = false;
    if (!Push(Item(StreamItem::Kind::kUnreachable, status))) return;
    if (!got_events) {
      if (!SleepUnlessStopped(delay - (absl::Now() - watch_start))) return;
      delay = std::min(delay * 2, policy_.backoff.max);
    }
  }
}

}  // namespace edbp::client

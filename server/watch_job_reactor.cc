#include "server/watch_job_reactor.h"

#include <utility>

#include "server/service.h"

namespace edbp::server {

WatchJobReactor::WatchJobReactor(MetricsHub* hub, ServerMetrics* metrics,
                                 const std::atomic<bool>* shutting_down,
                                 std::string job_id, int64_t from)
    : hub_(hub),
      metrics_(metrics),
      shutting_down_(shutting_down),
      job_id_(std::move(job_id)),
      subscribed_(true) {
  {
    absl::MutexLock lock(&mu_);
    next_ = std::max<int64_t>(from, 1);
  }
  if (metrics_ != nullptr) metrics_->OnWatcherStarted();
  // Subscribed before the first read: an event committed in between is either in that
  // read or announced after it.
  hub_->Subscribe(job_id_, this);
  Pump();
}

WatchJobReactor::WatchJobReactor(const grpc::Status& error) {
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }
  Finish(error);
}

void WatchJobReactor::Pump() {
  while (true) {
    int64_t from = 0;
    bool write = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || reading_ || finished_) return;
      if (cancelled_) {
        finish = grpc::Status::CANCELLED;
      } else if (shutting_down_->load()) {
        finish =
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
      } else if (error_.has_value()) {
        finish = *error_;
      } else if (!pending_.empty()) {
        current_ = std::move(pending_.front());
        pending_.pop_front();
        writing_ = write = true;
      } else if (ended_) {
        finish = grpc::Status::OK;
      } else if (need_read_) {
        reading_ = true;
        need_read_ = false;
        from = next_;
      } else {
        return;  // caught up: the hub's next OnAppended resumes
      }
      if (finish.has_value()) finished_ = true;
    }
    if (write) {
      StartWrite(&current_);  // current_ is left alone until OnWriteDone
      return;
    }
    if (finish.has_value()) {
      Finish(*finish);
      return;
    }
    absl::StatusOr<MetricsHub::ReadResult> read = hub_->Read(job_id_, from, kMaxPending);
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (!read.ok()) {
      error_ = ToGrpc(read.status());
      continue;
    }
    for (v1::Event& event : read->events) {
      if (event.sequence() != next_) continue;  // never happens: reads start at next_
      pending_.push_back(std::move(event));
      ++next_;
    }
    if (!read->events.empty()) need_read_ = true;  // there may be more
    if (read->ended) ended_ = true;
  }
}

void WatchJobReactor::OnAppended(const v1::Event& event) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || event.sequence() < next_) return;
    if (!reading_ && event.sequence() == next_ &&
        static_cast<int>(pending_.size()) < kMaxPending) {
      pending_.push_back(event);
      ++next_;
      if (event.has_state_change() && IsTerminal(event.state_change().state())) {
        ended_ = true;
      }
    } else {
      need_read_ = true;  // behind (or a read is under way): read it from the hub
    }
  }
  Pump();
}

void WatchJobReactor::OnWake() { Pump(); }

void WatchJobReactor::OnInterrupted(const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    if (!error_.has_value()) {
      error_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(why.message()));
    }
  }
  Pump();
}

void WatchJobReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) cancelled_ = true;  // the client went away
  }
  if (ok && metrics_ != nullptr) metrics_->OnEventStreamed();
  Pump();
}

void WatchJobReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  Pump();
}

void WatchJobReactor::OnDone() {
  if (subscribed_) {
    hub_->Unsubscribe(job_id_, this);  // waits for a callback under way
    if (metrics_ != nullptr) metrics_->OnWatcherEnded();
  }
  delete this;
}

}  // namespace edbp::server

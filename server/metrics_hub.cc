#include "server/metrics_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/job_name.h"
#include "server/clock.h"

namespace edbp::server {

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

absl::StatusOr<MetricsHub::JobLog*> MetricsHub::LogOf(const std::string& job_id) {
  auto it = logs_.find(job_id);
  if (it != logs_.end()) return it->second.get();
  EDBP_ASSIGN_OR_RETURN(const v1::Job job, store_->GetJob(job_id));
  EDBP_ASSIGN_OR_RETURN(std::vector<v1::Event> events, store_->ReadEvents(job_id, 1));
  auto log = std::make_unique<JobLog>();
  log->events = std::move(events);
  log->ended = IsTerminal(job.state());
  JobLog* raw = log.get();
  logs_.emplace(job_id, std::move(log));
  return raw;
}

absl::StatusOr<v1::Event> MetricsHub::Append(const std::string& job_id, v1::Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  EDBP_ASSIGN_OR_RETURN(JobLog * log, LogOf(job_id));
  event.set_job(JobName(job_id));
  event.set_sequence(static_cast<int64_t>(log->events.size()) + 1);
  *event.mutable_time() = Now();
  EDBP_RETURN_IF_ERROR(store_->AppendEvent(event));
  if (event.has_epoch_metrics()) {
    EDBP_ASSIGN_OR_RETURN(v1::Job job, store_->GetJob(job_id));
    const v1::EpochMetrics& m = event.epoch_metrics();
    job.set_last_epoch(m.epoch());
    if (m.test_accuracy() > job.best_test_accuracy()) {
      job.set_best_test_accuracy(m.test_accuracy());
    }
    EDBP_RETURN_IF_ERROR(store_->UpdateJob(job));
  }
  if (event.has_state_change()) log->ended = IsTerminal(event.state_change().state());
  log->events.push_back(event);
  cv_.notify_all();
  return event;
}

absl::StatusOr<MetricsHub::ReadResult> MetricsHub::WaitRead(
    const std::string& job_id, int64_t from, int limit,
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  from = std::max<int64_t>(from, 1);
  while (true) {
    EDBP_ASSIGN_OR_RETURN(JobLog * log, LogOf(job_id));
    const int64_t count = static_cast<int64_t>(log->events.size());
    if (count >= from || log->ended || std::chrono::steady_clock::now() >= deadline) {
      ReadResult r;
      const int64_t end = std::min<int64_t>(count, from - 1 + std::max(limit, 1));
      for (int64_t i = from - 1; i < end; ++i) r.events.push_back(log->events[i]);
      r.ended = log->ended && end == count;
      return r;
    }
    cv_.wait_until(lock, deadline);
  }
}

void MetricsHub::WakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

}  // namespace edbp::server

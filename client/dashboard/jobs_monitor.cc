#include "client/dashboard/jobs_monitor.h"

#include <algorithm>
#include <set>
#include <utility>

#include "client/common/json.h"
#include "nlohmann/json.hpp"

namespace edbp::dashboard {

using client::DescribeStatus;
using client::ToJson;
namespace {

constexpr int kPageSize = 1000;  // the server's maximum
constexpr int kMaxPages = 20;    // 20,000 jobs; the page shows far fewer

}  // namespace

JobsMonitor::JobsMonitor(v1::TrainingService::StubInterface* stub,
                         absl::Duration poll_interval, absl::Duration rpc_timeout,
                         client::Backoff backoff)
    : stub_(stub),
      poll_interval_(poll_interval),
      rpc_timeout_(rpc_timeout),
      backoff_(backoff),
      thread_([this] { Run(); }) {}

JobsMonitor::~JobsMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  followers_.clear();  // each JobStream stops and joins its thread
}

void JobsMonitor::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void JobsMonitor::Run() {
  for (;;) {
    Poll();
    absl::MutexLock lock(&mu_);
    auto woken = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopped_ || wake_; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), poll_interval_);
    if (stopped_) return;
    wake_ = false;
  }
}

void JobsMonitor::Poll() {
  std::vector<v1::Job> jobs;
  grpc::Status status;
  std::set<std::string> tokens;
  std::string token;
  for (int page = 0; page < kMaxPages; ++page) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + rpc_timeout_));
    v1::ListJobsRequest request;
    request.set_page_size(kPageSize);
    request.set_page_token(token);
    v1::ListJobsResponse response;
    status = stub_->ListJobs(&context, request, &response);
    if (!status.ok()) break;
    for (v1::Job& job : *response.mutable_jobs()) jobs.push_back(std::move(job));
    token = response.next_page_token();
    if (token.empty() || !tokens.insert(token).second) break;
  }

  absl::MutexLock lock(&mu_);
  ++polls_;
  if (!status.ok()) {
    reachable_ = false;
    error_ = DescribeStatus(status);
    DrainFollowers();
    return;
  }
  reachable_ = true;
  error_.clear();
  jobs_ = std::move(jobs);
  std::set<std::string> running;
  for (const v1::Job& job : jobs_) {
    if (job.state() != v1::RUNNING) continue;
    running.insert(job.name());
    Follower& follower = followers_[job.name()];
    if (follower.stream == nullptr) {
      client::FollowPolicy policy;  // retries for ever, like the page
      policy.backoff = backoff_;
      // From the first event: the pace is the mean of every finished epoch, as in the
      // job view (which reads the whole history too).
      follower.stream =
          std::make_unique<client::JobStream>(stub_, job.name(), int64_t{1}, policy);
    }
  }
  for (auto it = followers_.begin(); it != followers_.end();) {
    it = running.count(it->first) > 0 ? std::next(it) : followers_.erase(it);
  }
  DrainFollowers();
}

void JobsMonitor::DrainFollowers() {
  for (auto& [name, follower] : followers_) {
    while (std::optional<client::StreamItem> item =
               follower.stream->Next(absl::ZeroDuration())) {
      if (item->kind != client::StreamItem::Kind::kEvent) continue;
      const v1::Event& event = item->event;
      if (event.has_progress()) {
        follower.progress = event.progress();
        follower.eta.OnProgress(event.progress());
      } else if (event.has_epoch_metrics()) {
        follower.eta.OnEpoch(event.epoch_metrics());
      } else if (event.has_state_change() &&
                 event.state_change().state() != v1::RUNNING) {
        follower.progress.reset();
      }
    }
  }
}

std::string JobsMonitor::SnapshotJson() {
  absl::MutexLock lock(&mu_);
  nlohmann::json doc = {{"reachable", reachable_},
                        {"error", error_},
                        {"polls", polls_},
                        {"jobs", nlohmann::json::array()}};
  for (const v1::Job& job : jobs_) {
    v1::Job shown = job;
    shown.clear_config_yaml();  // the table does not need it; 20 jobs poll every second
    nlohmann::json entry = nlohmann::json::parse(ToJson(shown), nullptr, false);
    if (entry.is_discarded()) continue;
    entry["progress"] = nullptr;
    entry["eta_seconds"] = nullptr;
    auto it = followers_.find(job.name());
    if (it != followers_.end() && job.state() == v1::RUNNING) {
      const Follower& f = it->second;
      if (f.progress.has_value()) {
        entry["progress"] = nlohmann::json::parse(ToJson(*f.progress), nullptr, false);
      }
      if (const std::optional<double> eta = f.eta.JobSeconds(); eta.has_value()) {
        entry["eta_seconds"] = *eta;
      }
    }
    doc["jobs"].push_back(std::move(entry));
  }
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace edbp::dashboard

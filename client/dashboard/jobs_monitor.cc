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

double ProgressFraction(const v1::Progress& p, int64_t epochs) {
  if (epochs < 1) return 0;
  double within = 0;
  if (p.phase() == v1::Progress::TEST) {
    within = 1;  // the epoch's training is done; its test pass counts as its end
  } else if (p.batches() > 0) {
    within = std::clamp(static_cast<double>(p.batch()) / static_cast<double>(p.batches()),
                        0.0, 1.0);
  }
  const double done = static_cast<double>(std::max<int64_t>(p.epoch() - 1, 0)) + within;
  return std::clamp(done / static_cast<double>(epochs), 0.0, 1.0);
}

std::optional<double> EstimateRemainingSeconds(double first_fraction,
                                               absl::Time first_time, double fraction,
                                               absl::Time time, absl::Time now) {
  const double moved = fraction - first_fraction;
  const double took = absl::ToDoubleSeconds(time - first_time);
  if (!(moved > 1e-9) || !(took > 0)) return std::nullopt;
  const double remaining =
      took * (1.0 - fraction) / moved - absl::ToDoubleSeconds(now - time);
  return std::max(remaining, 0.0);
}

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
      follower.stream = std::make_unique<client::JobStream>(
          stub_, job.name(), std::max<int64_t>(job.last_sequence(), 1), policy);
    }
  }
  for (auto it = followers_.begin(); it != followers_.end();) {
    it = running.count(it->first) > 0 ? std::next(it) : followers_.erase(it);
  }
  DrainFollowers();
}

void JobsMonitor::DrainFollowers() {
  std::map<std::string, int64_t> epochs;
  for (const v1::Job& job : jobs_) epochs[job.name()] = job.epochs();
  const absl::Time now = absl::Now();
  for (auto& [name, follower] : followers_) {
    while (std::optional<client::StreamItem> item =
               follower.stream->Next(absl::ZeroDuration())) {
      if (item->kind != client::StreamItem::Kind::kEvent) continue;
      const v1::Event& event = item->event;
      double fraction = -1;
      if (event.has_progress()) {
        follower.progress = event.progress();
        fraction = ProgressFraction(event.progress(), epochs[name]);
      } else if (event.has_epoch_metrics() && event.epoch_metrics().epochs() > 0) {
        fraction = static_cast<double>(event.epoch_metrics().epoch()) /
                   static_cast<double>(event.epoch_metrics().epochs());
      } else if (event.has_state_change() &&
                 event.state_change().state() != v1::RUNNING) {
        follower.progress.reset();
      }
      if (fraction < 0) continue;
      if (follower.first_fraction < 0) {
        follower.first_fraction = fraction;
        follower.first_time = now;
      }
      follower.fraction = fraction;
      follower.time = now;
    }
  }
}

std::string JobsMonitor::SnapshotJson() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
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
      if (f.first_fraction >= 0) {
        const std::optional<double> eta = EstimateRemainingSeconds(
            f.first_fraction, f.first_time, f.fraction, f.time, now);
        if (eta.has_value()) entry["eta_seconds"] = *eta;
      }
    }
    doc["jobs"].push_back(std::move(entry));
  }
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace edbp::dashboard

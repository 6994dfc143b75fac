#include "server/prometheus_metrics.h"

#include <sys/socket.h>

#include <chrono>
#include <map>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "prometheus/collectable.h"
#include "prometheus/text_serializer.h"
#include "spdlog/spdlog.h"

namespace edbp::server {
namespace {

prometheus::ClientMetric GaugeValue(double value,
                                    std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

}  // namespace

// The gauges read from the store at scrape time.
class ServerMetrics::StoreCollector final : public prometheus::Collectable {
 public:
  StoreCollector(JobStore* store, std::vector<std::string> slots)
      : store_(store), slots_(std::move(slots)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::map<v1::JobState, int64_t> by_state;
    std::map<std::string, int64_t> busy;
    auto jobs = store_->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 0);
    if (!jobs.ok()) {
      spdlog::warn("/metrics: cannot read the job store: {}",
                   std::string(jobs.status().message()));
      return {};
    }
    for (const v1::Job& job : *jobs) {
      ++by_state[job.state()];
      if (job.state() == v1::RUNNING) ++busy[job.device()];
    }
    prometheus::MetricFamily jobs_family{
        "edbp_jobs", "Jobs by state", prometheus::MetricType::Gauge, {}};
    for (v1::JobState state :
         {v1::QUEUED, v1::RUNNING, v1::SUCCEEDED, v1::FAILED, v1::CANCELLED}) {
      jobs_family.metric.push_back(
          GaugeValue(static_cast<double>(by_state[state]),
                     {{"state", absl::AsciiStrToLower(v1::JobState_Name(state))}}));
    }
    prometheus::MetricFamily queue{
        "edbp_queue_depth",
        "Jobs waiting for a device slot",
        prometheus::MetricType::Gauge,
        {GaugeValue(static_cast<double>(by_state[v1::QUEUED]), {})}};
    prometheus::MetricFamily devices{
        "edbp_device_utilization",
        "Share of the device slot in use by a job (1 while a job runs on it)",
        prometheus::MetricType::Gauge,
        {}};
    for (const std::string& slot : slots_) {
      devices.metric.push_back(
          GaugeValue(busy[slot] > 0 ? 1.0 : 0.0, {{"device", slot}}));
    }
    return {std::move(jobs_family), std::move(queue), std::move(devices)};
  }

 private:
  JobStore* const store_;
  const std::vector<std::string> slots_;
};

ServerMetrics::ServerMetrics(JobStore* store, std::vector<std::string> slots)
    : registry_(std::make_shared<prometheus::Registry>()),
      store_collector_(std::make_shared<StoreCollector>(store, std::move(slots))),
      events_streamed_(&prometheus::BuildCounter()
                            .Name("edbp_events_streamed_total")
                            .Help("Events written to WatchJob streams")
                            .Register(*registry_)
                            .Add({})),
      watchers_(&prometheus::BuildGauge()
                     .Name("edbp_watchers")
                     .Help("WatchJob streams open now")
                     .Register(*registry_)
                     .Add({})),
      epoch_seconds_(
          &prometheus::BuildHistogram()
               .Name("edbp_epoch_seconds")
               .Help("Wall time of each finished training epoch (train + test)")
               .Register(*registry_)
               .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120,
                                                                300, 600, 1800, 3600})),
      store_healthy_(&prometheus::BuildGauge()
                          .Name("edbp_store_healthy")
                          .Help("1 while the job store writes, 0 since a write failed "
                                "(a full disk, an I/O error) until one succeeds")
                          .Register(*registry_)
                          .Add({})),
      store_write_failures_(&prometheus::BuildCounter()
                                 .Name("edbp_store_write_failures_total")
                                 .Help("Writes of a job's state the store refused")
                                 .Register(*registry_)
                                 .Add({})) {
  store_healthy_->Set(1);
}

void ServerMetrics::OnStoreHealth(bool healthy, int64_t failures) {
  store_healthy_->Set(healthy ? 1 : 0);
  const double counted = store_write_failures_->Value();
  if (static_cast<double>(failures) > counted) {
    store_write_failures_->Increment(static_cast<double>(failures) - counted);
  }
}

ServerMetrics::~ServerMetrics() {
  if (http_ != nullptr) {
    http_->stop();
    if (http_thread_.joinable()) http_thread_.join();
  }
}

absl::StatusOr<int> ServerMetrics::Listen(const std::string& address) {
  const std::string flag = absl::StrCat("--metrics-listen ", address);
  if (http_ != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": already listening"));
  }
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected HOST:PORT (PORT 0 picks a free one)"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:9090
  }
  auto http = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second
  // server bind a port that is already serving.
  http->set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(Text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const int bound = port == 0 ? http->bind_to_any_port(host)
                              : (http->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": cannot listen (address in use, or not an address of this machine)"));
  }
  http_ = std::move(http);
  http_thread_ = std::thread([server = http_.get()] { server->listen_after_bind(); });
  // Until the accept loop runs, httplib's stop() would be lost (it only shuts a
  // running server down) and the destructor's join would wait forever.
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound;
}

std::string ServerMetrics::Text() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : store_collector_->Collect()) {
    families.push_back(std::move(family));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace edbp::server

#include "server/prometheus_metrics.h"

#include <exception>
#include <map>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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
                                                                300, 600, 1800, 3600})) {}

ServerMetrics::~ServerMetrics() = default;

absl::StatusOr<int> ServerMetrics::Listen(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", address, ": cannot listen: ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(store_collector_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", address, ": no port is listening"));
  }
  return ports.front();
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

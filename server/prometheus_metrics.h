// The server's Prometheus metrics, served as text on --metrics-listen ADDR at /metrics:
// prometheus-cpp's registry and text format, served by cpp-httplib. (prometheus-cpp's
// own civetweb exposer fails to start -- "null context when constructing CivetServer"
// -- in any process that loads libcublas.so.13, as edbp-server does in CUDA builds.)
// Names and meaning:
//
//   edbp_jobs{state="queued|running|succeeded|failed|cancelled"}  gauge, from the store
//   edbp_queue_depth                     gauge: jobs waiting for a slot (= queued)
//   edbp_device_utilization{device="cuda:0"}  gauge: 1 while a job runs on the slot, else
//   0 edbp_epoch_seconds                   histogram: wall time of each finished epoch
//   edbp_events_streamed_total           counter: events written to WatchJob streams
//   edbp_watchers                        gauge: WatchJob streams open now
//   edbp_store_healthy                   gauge: 0 since a store write failed, until one
//                                        succeeds (server/store_health.h)
//   edbp_store_write_failures_total      counter: writes of a job's state refused
//
// The gauges of the store are computed when scraped. Thread-safe.
#ifndef EDBP_SERVER_PROMETHEUS_METRICS_H_
#define EDBP_SERVER_PROMETHEUS_METRICS_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/job_store.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace edbp::server {

class ServerMetrics {
 public:
  // `store` outlives this object; `slots` are the scheduler's device slots.
  ServerMetrics(JobStore* store, std::vector<std::string> slots);
  ~ServerMetrics();

  // Serves /metrics on `address` (host:port; port 0 picks a free one). Returns the
  // port bound. INVALID_ARGUMENT naming --metrics-listen when it cannot listen. Call
  // at most once.
  absl::StatusOr<int> Listen(const std::string& address);

  void OnEventStreamed() { events_streamed_->Increment(); }
  void OnWatcherStarted() { watchers_->Increment(); }
  void OnWatcherEnded() { watchers_->Decrement(); }
  void OnEpochSeconds(double seconds) { epoch_seconds_->Observe(seconds); }
  // The store's health (StoreHealth) and its failed writes so far.
  void OnStoreHealth(bool healthy, int64_t failures);

  // Everything as Prometheus text (what /metrics answers).
  std::string Text() const;

 private:
  class StoreCollector;

  const std::shared_ptr<prometheus::Registry> registry_;
  const std::shared_ptr<StoreCollector> store_collector_;
  prometheus::Counter* const events_streamed_;
  prometheus::Gauge* const watchers_;
  prometheus::Histogram* const epoch_seconds_;
  prometheus::Gauge* const store_healthy_;
  prometheus::Counter* const store_write_failures_;
  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_PROMETHEUS_METRICS_H_

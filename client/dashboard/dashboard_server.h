// The dashboard's HTTP server (cpp-httplib): the embedded page, a JSON API over
// edbp-server's TrainingService, and each job's event stream as Server-Sent Events.
//
//   GET  /, /index.html, /<asset>     the page (EmbeddedAssets() or what tests give)
//   GET  /api/info                    {"server": ADDR}
//   GET  /api/statistics              the statistics' names, labels, units and meanings
//                                     (core/train/statistics.h): {"epoch": [{"name",
//                                     "label", "unit", "meaning"}, ...], "layer": [...]}
//   GET  /api/jobs                    the job table (JobsMonitor::SnapshotJson)
//   POST /api/jobs?name=&priority=    body: config YAML -> CreateJob; the Job as JSON
//   POST /api/jobs/{id}/cancel        CancelJob; the Job as JSON
//   GET  /api/jobs/{id}/events?from=N text/event-stream: the job's events from N
//                                     (default 1, or Last-Event-ID + 1), then live
// The run comparison, the sweep view and the job lifecycle (issue 19):
//   GET  /api/jobs/{id}               GetJob: the Job with config_yaml, plus "config"
//                                     (its Network and Layers keys flattened, see
//                                     run_json.h's JobDetailJson)
//   GET  /api/jobs/{id}/epochs        the job's epoch records up to its latest event,
//                                     numbers as JSON numbers (run_json.h's EpochsJson)
//   POST /api/jobs/{id}/delete        DeleteJob; the DeleteJobResponse as JSON
//   POST /api/jobs/{id}/resume        ResumeJob; the Job as JSON
//   GET  /api/sweeps                  ListSweeps, every page: {"reachable": bool,
//                                     "error": "...", "sweeps": [Sweep without
//                                     config_yaml], newest first}; 200 also when
//                                     edbp-server does not answer (reachable false)
//   POST /api/sweeps                  body: a CreateSweepRequest as JSON (protobuf's
//                                     JSON mapping) -> CreateSweep; the Sweep as JSON
//   GET  /api/sweeps/{id}             GetSweep; the Sweep as JSON
//   POST /api/sweeps/{id}/cancel      CancelSweep; the Sweep as JSON
//   GET  /api/jobs/{id}/gradient-flow?checkpoint=last|best
//                                     the gradient-flow report (README "Gradient flow")
//                                     of the job's last (default) or best checkpoint,
//                                     made as `edbp-client gradient-flow` makes it: the
//                                     local edbp-train (DashboardOptions::train_program)
//                                     on the downloaded checkpoint, batch 0, the job's
//                                     seed. Kept per (job, checkpoint bytes, seed): the
//                                     same checkpoint again answers from memory (header
//                                     X-Edbp-Report: cached, else computed). One report
//                                     is made at a time: 429 RESOURCE_EXHAUSTED while
//                                     another one is. 400 for a checkpoint that is not
//                                     last or best; 404 when the job has no such
//                                     checkpoint yet; 503 when there is no edbp-train;
//                                     500 with the end of its output when it fails.
// An {id} that is not 1 to 19 decimal digits (at most INT64_MAX) answers 400
// INVALID_ARGUMENT naming it, before edbp-server is asked.
//
// SSE messages: "event: edbp" (id: the sequence, data: the Event as JSON), "event:
// status" (data: {"reachable": bool, "error": "..."}) when edbp-server goes away or
// comes back (the relay resumes by itself, see JobStream), then "event: end" (the job
// ended) or "event: failure" (data: {"error": "..."}, e.g. an unknown job). Failed
// API calls answer {"code": "NOT_FOUND", "error": "..."} with an HTTP status that
// matches the gRPC code (400, 401, 403, 404, 409, 503, 504, else 502).
//
// Requests from other web sites are refused: POSTs need the header
// "X-Edbp-Dashboard: 1" (a cross-site page cannot send it without a CORS preflight,
// which is never granted) and, when bound to loopback, the Host header must name a
// loopback host (against DNS rebinding); both answer 403 otherwise.
#ifndef EDBP_CLIENT_DASHBOARD_DASHBOARD_SERVER_H_
#define EDBP_CLIENT_DASHBOARD_DASHBOARD_SERVER_H_

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/common/job_stream.h"
#include "client/dashboard/assets.h"
#include "client/dashboard/jobs_monitor.h"
#include "client/dashboard/listen_address.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace edbp::dashboard {

struct DashboardOptions {
  std::string server_address;  // edbp-server's address, as shown on the page
  absl::Duration rpc_timeout = absl::Seconds(10);   // deadline of each unary call
  absl::Duration poll_interval = absl::Seconds(1);  // of the job table
  client::Backoff backoff;                          // of the event relays
  absl::Duration keepalive = absl::Seconds(5);      // SSE comment when idle
  int http_threads = 64;  // concurrent requests (each open event stream holds one)
  // The edbp-train that makes gradient-flow reports; "" for the one next to this
  // process's binary (edbp-client's).
  std::string train_program;
};

// The gradient-flow reports made so far, the newest `capacity`, by key. Thread-safe.
class GradientFlowCache {
 public:
  explicit GradientFlowCache(size_t capacity);
  std::optional<std::string> Find(const std::string& key);
  // Adds the report (dropping the oldest beyond the capacity); a key present is kept.
  void Add(const std::string& key, std::string report);

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<std::pair<std::string, std::string>> entries_ ABSL_GUARDED_BY(mu_);
};

// Construct, Listen(), then Serve() (blocks) until Stop() from another thread.
class DashboardServer {
 public:
  // `assets` must outlive the server (EmbeddedAssets() is static).
  DashboardServer(std::shared_ptr<grpc::Channel> channel, std::span<const Asset> assets,
                  DashboardOptions options);
  // With a stub instead of a channel (tests).
  DashboardServer(std::unique_ptr<v1::TrainingService::StubInterface> stub,
                  std::span<const Asset> assets, DashboardOptions options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Binds `address` (port 0: a free one). Errors name the address and the reason,
  // e.g. "cannot listen on 127.0.0.1:8080: Address already in use".
  absl::Status Listen(const ListenAddress& address);
  // The bound port (after Listen).
  int port() const { return port_; }
  // Serves until Stop(); returns at once when Listen() did not succeed.
  void Serve();
  // Ends Serve(): open event streams close within a second. Thread-safe, idempotent.
  void Stop();

 private:
  // Registers every route; httplib tries them in registration order.
  void Routes();
  void RouteGuards();           // the pre-routing checks against other web sites
  void RouteJobsApi();          // /api/info and /api/jobs: JSON over unary calls
  void RouteEvents();           // /api/jobs/{id}/events: Server-Sent Events
  void RouteRunsApi();          // /api/jobs/{id}[/epochs|/delete|/resume] (runs_api.cc)
  void RouteSweepsApi();        // /api/sweeps[/{id}[/cancel]] (runs_api.cc)
  void RouteGradientFlowApi();  // /api/jobs/{id}/gradient-flow (gradient_flow_api.cc)
  void RouteAssets();           // the page; a catch-all, so registered last

  // GetJob(name) with the unary deadline.
  grpc::Status FetchJob(const std::string& name, v1::Job* job);

  const std::unique_ptr<v1::TrainingService::StubInterface> stub_;
  const std::span<const Asset> assets_;
  const DashboardOptions options_;
  JobsMonitor monitor_;
  std::unique_ptr<httplib::Server> http_;
  bool loopback_ = true;
  int port_ = 0;
  bool bound_ = false;
  std::atomic<bool> stopping_{false};
  GradientFlowCache gradient_flow_cache_{8};
  absl::Mutex computing_gradient_flow_;  // held while edbp-train makes a report
};

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_DASHBOARD_SERVER_H_

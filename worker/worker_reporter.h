// The edbp-train side of the worker protocol: a MetricsSink that sends every record to
// edbp-server's WorkerService as an edbp.v1.Event (worker.proto), over a Unix socket
// or, for a job on a cluster, TCP.
//
// Reports are synchronous with a deadline (the trainer's thread waits for the server's
// ack, so events arrive in order). Up to 3 tries per record, retried (after 100 ms, then
// 200 ms) only on UNAVAILABLE. Event.job is set to "jobs/{job_id}", Event.record to the
// training record's number (core/train/metrics.h), so the server stores a record
// replayed after a resume only once; sequence and time are left to the server. Every
// request carries the attempt (edbp-train --attempt).
//
// With a spool attached (AttachSpool, once the run directory's lock is held), nothing
// the server did not acknowledge is lost: the report goes to the spool
// (worker/report_spool.h), and from then on every new report queues behind it until
// the spool is delivered, in order, so the server's history keeps the records' order.
// Delivery is retried at most once a second (backing off to 30 s) with a 1 s deadline,
// so a server that is away costs training little. Refusals:
// - INVALID_ARGUMENT: the report can never be stored; dropped with a line on stderr;
// - NOT_FOUND (the job is not running) or ABORTED (this attempt is not the job's
//   running one): this process is *fenced*: it spools everything from then on, stops
//   delivering (the job's next attempt or the server will), and calls `on_fenced` once
//   (edbp-train stops at the next batch, saving a checkpoint).
// Without a spool, a report that fails is dropped with one line on stderr: training
// never stops for it.
//
// Cluster runs (issue 18): a report carries the run's token from $EDBP_JOB_TOKEN (set
// by edbp-server, never on the command line) as metadata x-edbp-job-token; to a TCP
// address it goes over TLS when $EDBP_WORKER_CA names the PEM CA of the server's
// worker port, else in plaintext. UNAUTHENTICATED / PERMISSION_DENIED (a wrong token)
// are refusals like any other: the report is spooled.
//
// Thread-safe (Log may come from another thread).
#ifndef EDBP_WORKER_WORKER_REPORTER_H_
#define EDBP_WORKER_WORKER_REPORTER_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "core/train/metrics.h"
#include "edbp/v1/training_service.pb.h"
#include "edbp/v1/worker.grpc.pb.h"
#include "worker/metrics_proto.h"
#include "worker/report_spool.h"

namespace edbp::worker {

class WorkerReporter final : public train::MetricsSink {
 public:
  // `address`: a gRPC target, e.g. "unix:/data/worker.sock". Never fails: the channel
  // connects lazily. `attempt`: sent with every report. `deadline`: of each try.
  WorkerReporter(const std::string& address, std::string job_id, int64_t attempt = 0,
                 std::chrono::milliseconds deadline = std::chrono::seconds(5));
  ~WorkerReporter() override;

  void OnProgress(const train::ProgressRecord& r) override;
  void OnEpoch(const train::EpochMetrics& m) override;
  void OnCheckpoint(const train::CheckpointRecord& r) override;
  // A log line event (INFO/WARNING/ERROR).
  void Log(v1::LogLine::Level level, const std::string& text);

  // Opens the spool at `path` (creating it) and delivers what an earlier process of the
  // job left in it, before any report of this one. Returns the spool's open error
  // (reports then go unspooled, as before); a note on a repaired spool goes to stderr
  // and to the server as a WARNING.
  absl::Status AttachSpool(const std::filesystem::path& path);

  // Tries to deliver what is spooled for up to `budget` (at exit). Returns the bytes
  // still spooled (0: everything delivered, or no spool).
  uint64_t Flush(std::chrono::milliseconds budget);

  // Called once, from the reporting thread, when the server fences this process off.
  void set_on_fenced(std::function<void()> on_fenced);

 private:
  void Send(v1::Event event);
  // One delivery with up to `tries` tries; the final status.
  grpc::Status Deliver(const v1::ReportRequest& request, int tries,
                       std::chrono::milliseconds deadline);
  // Delivers spooled reports in order until one fails; true when the spool is empty.
  bool DeliverSpoolLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a report the server did not take into the spool (or drops it, saying so).
  void KeepLocked(const v1::ReportRequest& request, const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnRefusedLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string address_;
  const std::string job_id_;
  const int64_t attempt_;
  const std::chrono::milliseconds deadline_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  const std::string token_;  // $EDBP_JOB_TOKEN at construction; "" = none sent

  std::mutex mu_;
  std::optional<ReportSpool> spool_ ABSL_GUARDED_BY(mu_);
  bool fenced_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_fenced_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point next_delivery_ ABSL_GUARDED_BY(mu_);
  std::chrono::milliseconds backoff_ ABSL_GUARDED_BY(mu_){1000};
};

}  // namespace edbp::worker

#endif  // EDBP_WORKER_WORKER_REPORTER_H_

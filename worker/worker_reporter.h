// The edbp-train side of the worker protocol: a MetricsSink that sends every record to
// edbp-server's WorkerService as an edbp.v1.Event (worker.proto), over a Unix socket.
//
// Reports are synchronous with a deadline (the trainer's thread waits for the server's
// ack, so events arrive in order). Up to 3 tries per record, retried (after 100 ms, then
// 200 ms) only on UNAVAILABLE; when they fail the record is dropped with one line on
// stderr: training never stops for it. Event.job is set to "jobs/{job_id}"; sequence
// and time are left to the server. Thread-safe (Log may come from another thread).
#ifndef EDBP_WORKER_WORKER_REPORTER_H_
#define EDBP_WORKER_WORKER_REPORTER_H_

#include <chrono>
#include <memory>
#include <string>

#include "core/train/metrics.h"
#include "edbp/v1/training_service.pb.h"
#include "edbp/v1/worker.grpc.pb.h"
#include "worker/metrics_proto.h"

namespace edbp::worker {

class WorkerReporter final : public train::MetricsSink {
 public:
  // `address`: a gRPC target, e.g. "unix:/data/worker.sock". Never fails: the channel
  // connects lazily. `deadline`: of each try.
  WorkerReporter(const std::string& address, std::string job_id,
                 std::chrono::milliseconds deadline = std::chrono::seconds(5));

  void OnProgress(const train::ProgressRecord& r) override;
  void OnEpoch(const train::EpochMetrics& m) override;
  void OnCheckpoint(const train::CheckpointRecord& r) override;
  // A log line event (INFO/WARNING/ERROR).
  void Log(v1::LogLine::Level level, const std::string& text);

 private:
  void Send(v1::Event event);
  const std::string address_;
  const std::string job_id_;
  const std::chrono::milliseconds deadline_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
};

}  // namespace edbp::worker

#endif  // EDBP_WORKER_WORKER_REPORTER_H_

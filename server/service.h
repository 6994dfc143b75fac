// The gRPC services of edbp-server: TrainingService (public API, training_service.proto)
// and WorkerService (edbp-train's reports, worker.proto). They only translate between
// protos and the scheduler, store and hub; absl::Status codes map 1:1 onto gRPC codes.
//
// WatchJob is on gRPC's callback API (one WatchJobReactor per stream, no thread held
// while it waits: server/watch_job_reactor.h); the other methods stay synchronous.
// They are short unary calls, and DownloadCheckpoint's blocking file reads belong on
// the synchronous pool rather than on gRPC's few callback threads; gRPC mixes the two
// per method (WithCallbackMethod_WatchJob), so only the stream that waits for ever
// changes.
#ifndef EDBP_SERVER_SERVICE_H_
#define EDBP_SERVER_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "edbp/v1/worker.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/job_store.h"
#include "server/metrics_hub.h"
#include "server/prometheus_metrics.h"
#include "server/resources.h"
#include "server/scheduler.h"
#include "server/sweeps.h"

namespace edbp::server {

grpc::Status ToGrpc(const absl::Status& status);

// What the services need besides the store, hub and scheduler.
struct ServiceOptions {
  // Directories a config's Network.data_path must lie in (CheckDataPath in auth.h).
  std::vector<std::string> data_roots;
  // Prometheus metrics to update (watchers, events streamed, epoch seconds); may be
  // null. Not owned.
  ServerMetrics* metrics = nullptr;
  // A config whose training tensors are estimated (core/config/memory_estimate.h) to
  // need more bytes than this is INVALID_ARGUMENT at submit; 0: no limit.
  double max_job_bytes = 0;
  // What CreateJob checks a job's resources against (server/resources.h).
  ServerCapacity capacity;
};

class TrainingServiceImpl final : public v1::TrainingService::WithCallbackMethod_WatchJob<
                                      v1::TrainingService::Service> {
 public:
  // `data_dir` holds jobs/<id>/checkpoint_{last,best}.safetensors. `has_gpu_slots`:
  // whether configs asking for backend: cuda can run here.
  TrainingServiceImpl(JobStore* store, MetricsHub* hub, Scheduler* scheduler,
                      std::string data_dir, bool has_gpu_slots, ServiceOptions options)
      : store_(store),
        hub_(hub),
        scheduler_(scheduler),
        data_dir_(std::move(data_dir)),
        has_gpu_slots_(has_gpu_slots),
        options_(std::move(options)),
        sweeps_(store, scheduler, [this](const v1::CreateJobRequest& request) {
          return DraftJob(request, nullptr);
        }) {}

  // The sweeps (for the worker service's early-stopping hook).
  SweepManager* sweeps() { return &sweeps_; }

  // Ends every WatchJob stream, running or started later, with UNAVAILABLE "the server
  // is shutting down" (server shutdown).
  void Shutdown();

  grpc::Status CreateJob(grpc::ServerContext* ctx, const v1::CreateJobRequest* req,
                         v1::Job* job) override;
  grpc::Status GetJob(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                      v1::Job* job) override;
  grpc::Status ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                        v1::ListJobsResponse* resp) override;
  grpc::Status CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                         v1::Job* job) override;
  grpc::ServerWriteReactor<v1::Event>* WatchJob(grpc::CallbackServerContext* ctx,
                                                const v1::WatchJobRequest* req) override;
  grpc::Status DownloadCheckpoint(
      grpc::ServerContext* ctx, const v1::DownloadCheckpointRequest* req,
      grpc::ServerWriter<v1::CheckpointChunk>* writer) override;
  grpc::Status DeleteJob(grpc::ServerContext* ctx, const v1::DeleteJobRequest* req,
                         v1::DeleteJobResponse* resp) override;
  grpc::Status ResumeJob(grpc::ServerContext* ctx, const v1::ResumeJobRequest* req,
                         v1::Job* job) override;
  // A following reader holds one of the synchronous pool's threads while it waits (it
  // polls the file): at most kMaxLogFollowers at once, RESOURCE_EXHAUSTED beyond.
  grpc::Status ReadJobLog(grpc::ServerContext* ctx, const v1::ReadJobLogRequest* req,
                          grpc::ServerWriter<v1::LogChunk>* writer) override;
  static constexpr int kMaxLogFollowers = 64;
  grpc::Status CreateSweep(grpc::ServerContext* ctx, const v1::CreateSweepRequest* req,
                           v1::Sweep* sweep) override;
  grpc::Status GetSweep(grpc::ServerContext* ctx, const v1::GetSweepRequest* req,
                        v1::Sweep* sweep) override;
  grpc::Status ListSweeps(grpc::ServerContext* ctx, const v1::ListSweepsRequest* req,
                          v1::ListSweepsResponse* resp) override;
  grpc::Status CancelSweep(grpc::ServerContext* ctx, const v1::CancelSweepRequest* req,
                           v1::Sweep* sweep) override;

 private:
  // Everything CreateJob checks and resolves before it queues a job (config, data
  // roots, memory, resources, seed, init_from), as the draft job; `init_weights` (may
  // be null) gets the checkpoint to copy in. Sweeps draft their trials with it too.
  absl::StatusOr<v1::Job> DraftJob(const v1::CreateJobRequest& req,
                                   std::string* init_weights);
  // CreateJobRequest.init_from: the canonical "jobs/{id}:best|last" and the path of
  // that checkpoint. INVALID_ARGUMENT for bad syntax, NOT_FOUND for a job or a
  // checkpoint that does not exist.
  absl::StatusOr<std::pair<std::string, std::string>> ResolveInitFrom(
      const std::string& text);

  JobStore* const store_;
  MetricsHub* const hub_;
  Scheduler* const scheduler_;
  const std::string data_dir_;
  const bool has_gpu_slots_;
  const ServiceOptions options_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> log_followers_{0};
  SweepManager sweeps_;
};

// Reports of the jobs' processes. Job tokens (server/job_token.h, issue 18): a call
// on the TCP port (--worker-listen) must carry its run's token as metadata
// x-edbp-job-token; one on the Unix socket (only the server's user can open it) may.
// A token is checked against the store's hashes: unknown or malformed is
// UNAUTHENTICATED, a token of another job (or another attempt) PERMISSION_DENIED;
// then the attempt check of Scheduler::CheckReporter applies.
class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  // `metrics` (may be null, not owned) observes each epoch's seconds. `store` (may be
  // null: no token is checked, for tests of the reporting alone) holds token hashes.
  WorkerServiceImpl(MetricsHub* hub, Scheduler* scheduler,
                    ServerMetrics* metrics = nullptr, JobStore* store = nullptr)
      : hub_(hub), scheduler_(scheduler), metrics_(metrics), store_(store) {}
  grpc::Status Report(grpc::ServerContext* ctx, const v1::ReportRequest* req,
                      v1::ReportResponse* resp) override;

  // Sets the scheduler when it was null at construction (the worker port listens
  // before the scheduler exists); until then reports are UNAVAILABLE (retried).
  void Attach(Scheduler* scheduler) { scheduler_.store(scheduler); }
  // The sweeps told of every epoch reported (early stopping); until then none is.
  void AttachSweeps(SweepManager* sweeps) { sweeps_.store(sweeps); }

 private:
  absl::Status CheckToken(grpc::ServerContext* ctx, const v1::ReportRequest& req);

  MetricsHub* const hub_;
  std::atomic<Scheduler*> scheduler_;
  std::atomic<SweepManager*> sweeps_{nullptr};
  ServerMetrics* const metrics_;
  JobStore* const store_;
  // Token hash → (job id, attempt) of the tokens seen; a token never changes owner, so
  // only the first report of a run reads the store. Cleared past kMaxCachedTokens.
  std::mutex token_mu_;
  std::map<std::string, std::pair<std::string, int64_t>> token_cache_
      ABSL_GUARDED_BY(token_mu_);
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_SERVICE_H_

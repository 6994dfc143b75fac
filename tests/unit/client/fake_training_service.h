// A scripted, in-memory TrainingService for the client tests, and an in-process
// server running it on 127.0.0.1 at a free port.
//
// Jobs it starts with:
//   jobs/1 "mnist"   SUCCEEDED  SuccessScript (11 events); checkpoints "abc|defg|hi"
//                               (last) and "BEST|ckpt" (best)
//   jobs/2 "fmnist"  FAILED     FailureScript (4 events); no checkpoint
//   jobs/3 "cifar"   QUEUED     priority 5; no events
//   jobs/4 "live"    RUNNING    4 events (2 log lines); its stream then stays open
//                               until the client goes away
//   jobs/5 "flaky"   SUCCEEDED  SuccessScript; the first WatchJob breaks with
//                               UNAVAILABLE after 3 events; its checkpoint stream
//                               announces 100 bytes and sends 9
// DeleteJob: FAILED_PRECONDITION for QUEUED/RUNNING jobs, else removes the job (freed
// 4096 bytes). ResumeJob: CANCELLED/FAILED jobs become QUEUED, others
// FAILED_PRECONDITION. One sweep, sweeps/1 "lr" (SWEEP_FINISHED) with trials jobs/1
// (Network.lr=0.001, seed 0) and jobs/5 (Network.lr=0.0005, seed 1), best jobs/1;
// CancelSweep makes it SWEEP_CANCELLED. CreateSweep answers the request's sweep as
// sweeps/2 (SWEEP_RUNNING, no trials) and creates nothing; INVALID_ARGUMENT without a
// config.
// CreateJob: INVALID_ARGUMENT with two lines for a config containing "bad"; else a
// new QUEUED job (jobs/6, ...) whose script is SuccessScript. ListJobs pages 2 jobs at
// a time, newest first.
#ifndef EDBP_TESTS_UNIT_CLIENT_FAKE_TRAINING_SERVICE_H_
#define EDBP_TESTS_UNIT_CLIENT_FAKE_TRAINING_SERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace edbp::cli::testing {

// The two lines of CreateJob's INVALID_ARGUMENT message for a "bad" config.
inline constexpr char kBadConfigLine1[] = "Network.epochs: must be > 0";
inline constexpr char kBadConfigLine2[] = "Layers.conv_2.kernel_size: must be odd";

// RUNNING, log, 2 progress, epoch 1/2 (layers conv_1, fc_2), checkpoint last, log
// WARNING, progress, epoch 2/2, checkpoint best, SUCCEEDED.
std::vector<v1::Event> SuccessScript(const std::string& job);
// RUNNING, progress, log ERROR, FAILED.
std::vector<v1::Event> FailureScript(const std::string& job);

class FakeTrainingService final : public v1::TrainingService::Service {
 public:
  FakeTrainingService();

  grpc::Status CreateJob(grpc::ServerContext* context,
                         const v1::CreateJobRequest* request, v1::Job* job) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* job) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context,
                         const v1::CancelJobRequest* request, v1::Job* job) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status DownloadCheckpoint(
      grpc::ServerContext* context, const v1::DownloadCheckpointRequest* request,
      grpc::ServerWriter<v1::CheckpointChunk>* writer) override;

  grpc::Status DeleteJob(grpc::ServerContext* context,
                         const v1::DeleteJobRequest* request,
                         v1::DeleteJobResponse* response) override;
  grpc::Status ResumeJob(grpc::ServerContext* context,
                         const v1::ResumeJobRequest* request, v1::Job* job) override;
  grpc::Status CreateSweep(grpc::ServerContext* context,
                           const v1::CreateSweepRequest* request,
                           v1::Sweep* sweep) override;
  grpc::Status GetSweep(grpc::ServerContext* context, const v1::GetSweepRequest* request,
                        v1::Sweep* sweep) override;
  grpc::Status ListSweeps(grpc::ServerContext* context,
                          const v1::ListSweepsRequest* request,
                          v1::ListSweepsResponse* response) override;
  grpc::Status CancelSweep(grpc::ServerContext* context,
                           const v1::CancelSweepRequest* request,
                           v1::Sweep* sweep) override;

  // Replaces a job's config YAML and seed.
  void SetConfig(const std::string& job, const std::string& config_yaml, uint64_t seed);
  // The next `n` CreateJob calls fail with UNAVAILABLE (before doing anything).
  void FailNextCreates(int n);
  // Replaces a job's script; its last_sequence follows.
  void SetScript(const std::string& job, std::vector<v1::Event> events);

  std::vector<v1::CreateJobRequest> create_requests();
  std::vector<int64_t> watch_from_sequences(const std::string& job);
  int list_calls();
  size_t job_count();
  // The "authorization" metadata of the last ListJobs call ("" when none).
  std::string last_authorization();

 private:
  absl::Mutex mu_;
  std::map<int64_t, v1::Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<v1::Event>> scripts_ ABSL_GUARDED_BY(mu_);
  v1::Sweep sweep_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> by_request_id_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 6;
  int fail_creates_ ABSL_GUARDED_BY(mu_) = 0;
  bool flaky_broken_ ABSL_GUARDED_BY(mu_) = false;
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_authorization_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::CreateJobRequest> create_requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<int64_t>> watch_from_ ABSL_GUARDED_BY(mu_);
};

// A FakeTrainingService served on 127.0.0.1:<free port> until destruction.
class FakeServer {
 public:
  FakeServer();
  ~FakeServer();

  FakeTrainingService& service() { return service_; }
  // "127.0.0.1:PORT"
  const std::string& address() const { return address_; }

 private:
  FakeTrainingService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int ClosedPort();

}  // namespace edbp::cli::testing

#endif  // EDBP_TESTS_UNIT_CLIENT_FAKE_TRAINING_SERVICE_H_

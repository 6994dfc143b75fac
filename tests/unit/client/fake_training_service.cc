#include "tests/unit/client/fake_training_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace edbp::cli::testing {
namespace {

constexpr int64_t kEventTime = 1764504000;  // 2025-11-30 12:00:00 UTC

v1::Event NewEvent(const std::string& job, int64_t sequence) {
  v1::Event e;
  e.set_job(job);
  e.set_sequence(sequence);
  e.mutable_time()->set_seconds(kEventTime + sequence);
  return e;
}

v1::Event State(const std::string& job, int64_t seq, v1::JobState state,
                const std::string& device, const std::string& error) {
  v1::Event e = NewEvent(job, seq);
  e.mutable_state_change()->set_state(state);
  e.mutable_state_change()->set_device(device);
  e.mutable_state_change()->set_error(error);
  return e;
}

v1::Event Log(const std::string& job, int64_t seq, v1::LogLine::Level level,
              const std::string& text) {
  v1::Event e = NewEvent(job, seq);
  e.mutable_log()->set_level(level);
  e.mutable_log()->set_text(text);
  return e;
}

v1::Event Progress(const std::string& job, int64_t seq, int64_t epoch, int64_t batch) {
  v1::Event e = NewEvent(job, seq);
  v1::Progress* p = e.mutable_progress();
  p->set_epoch(epoch);
  p->set_batch(batch);
  p->set_batches(100);
  p->set_running_loss(0.5);
  p->set_running_accuracy(0.75);
  p->set_samples_per_second(1000);
  p->set_eta_seconds(12);
  return e;
}

v1::Event Epoch(const std::string& job, int64_t seq, int64_t epoch, double test_acc) {
  v1::Event e = NewEvent(job, seq);
  v1::EpochMetrics* m = e.mutable_epoch_metrics();
  m->set_epoch(epoch);
  m->set_epochs(2);
  m->set_train_loss(0.25);
  m->set_train_accuracy(0.875);
  m->set_test_loss(0.3);
  m->set_test_accuracy(test_acc);
  m->set_learning_rate(0.001);
  m->set_seconds(12.5);
  m->set_train_samples_per_second(4000);
  m->set_best(true);
  for (const char* name : {"conv_1", "fc_2"}) {
    v1::LayerGradientStats* l = m->add_layers();
    l->set_name(name);
    l->set_index(m->layers_size() - 1);
    l->set_grad_norm(0.0123);
    l->set_grad_sum_in(-1.5);
    l->set_grad_sum_out(2.25);
    l->set_firing_rate(0.125);
    l->set_silent_fraction(0.5);
    l->set_weight_norm(3.5);
    l->set_update_ratio(0.001);
  }
  return e;
}

v1::Event Checkpoint(const std::string& job, int64_t seq, int64_t epoch,
                     const std::string& kind) {
  v1::Event e = NewEvent(job, seq);
  e.mutable_checkpoint_saved()->set_epoch(epoch);
  e.mutable_checkpoint_saved()->set_kind(kind);
  return e;
}

v1::Job NewJob(int64_t id, const std::string& display_name, v1::JobState state,
               int32_t priority) {
  v1::Job job;
  job.set_name(absl::StrCat("jobs/", id));
  job.set_display_name(display_name);
  job.set_config_yaml("Network:\n  epochs: 2\n");
  job.set_priority(priority);
  job.set_state(state);
  job.mutable_create_time()->set_seconds(kEventTime - 100 + id);
  job.set_device(state == v1::QUEUED ? "" : "cpu:0");
  job.set_best_test_accuracy(state == v1::QUEUED ? -1 : 0.9);
  job.set_last_epoch(state == v1::QUEUED ? 0 : 2);
  job.set_epochs(2);
  return job;
}

bool Ended(v1::JobState s) {
  return s == v1::SUCCEEDED || s == v1::FAILED || s == v1::CANCELLED;
}

}  // namespace

std::vector<v1::Event> SuccessScript(const std::string& job) {
  return {State(job, 1, v1::RUNNING, "cpu:0", ""),
          Log(job, 2, v1::LogLine::INFO, "epoch 1 started"),
          Progress(job, 3, 1, 50),
          Progress(job, 4, 1, 100),
          Epoch(job, 5, 1, 0.8),
          Checkpoint(job, 6, 1, "last"),
          Log(job, 7, v1::LogLine::WARNING, "learning rate reduced"),
          Progress(job, 8, 2, 100),
          Epoch(job, 9, 2, 0.9),
          Checkpoint(job, 10, 2, "best"),
          State(job, 11, v1::SUCCEEDED, "", "")};
}

std::vector<v1::Event> FailureScript(const std::string& job) {
  return {State(job, 1, v1::RUNNING, "cpu:0", ""), Progress(job, 2, 1, 10),
          Log(job, 3, v1::LogLine::ERROR, "CUDA out of memory"),
          State(job, 4, v1::FAILED, "", "edbp-train exited with status 1")};
}

FakeTrainingService::FakeTrainingService() {
  absl::MutexLock lock(&mu_);
  jobs_[1] = NewJob(1, "mnist", v1::SUCCEEDED, 0);
  jobs_[2] = NewJob(2, "fmnist", v1::FAILED, 0);
  jobs_[2].set_error("edbp-train exited with status 1");
  jobs_[3] = NewJob(3, "cifar", v1::QUEUED, 5);
  jobs_[4] = NewJob(4, "live", v1::RUNNING, 0);
  jobs_[5] = NewJob(5, "flaky", v1::SUCCEEDED, 0);
  scripts_["jobs/1"] = SuccessScript("jobs/1");
  scripts_["jobs/2"] = FailureScript("jobs/2");
  scripts_["jobs/4"] = {State("jobs/4", 1, v1::RUNNING, "cpu:0", ""),
                        Log("jobs/4", 2, v1::LogLine::INFO, "hello"),
                        Progress("jobs/4", 3, 1, 10),
                        Log("jobs/4", 4, v1::LogLine::INFO, "world")};
  scripts_["jobs/5"] = SuccessScript("jobs/5");
  for (auto& [id, job] : jobs_) {
    job.set_last_sequence(static_cast<int64_t>(scripts_[job.name()].size()));
  }
  sweep_.set_name("sweeps/1");
  sweep_.set_display_name("lr");
  sweep_.set_config_yaml("Network:\n  epochs: 2\n");
  v1::GridParameter* grid = sweep_.add_grid();
  grid->set_key("Network.lr");
  grid->add_values("0.001");
  grid->add_values("0.0005");
  const char* lrs[] = {"0.001", "0.0005"};
  const char* trial_jobs[] = {"jobs/1", "jobs/5"};
  for (int i = 0; i < 2; ++i) {
    v1::Trial* trial = sweep_.add_trials();
    trial->set_job(trial_jobs[i]);
    trial->set_index(i);
    trial->set_seed(i);
    v1::TrialParameter* parameter = trial->add_parameters();
    parameter->set_key("Network.lr");
    parameter->set_value(lrs[i]);
  }
  sweep_.set_state(v1::SWEEP_FINISHED);
  sweep_.set_best_job("jobs/1");
  sweep_.set_best_test_accuracy(0.9);
}

grpc::Status FakeTrainingService::CreateJob(grpc::ServerContext*,
                                            const v1::CreateJobRequest* request,
                                            v1::Job* job) {
  absl::MutexLock lock(&mu_);
  create_requests_.push_back(*request);
  if (fail_creates_ > 0) {
    --fail_creates_;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is starting");
  }
  if (absl::StrContains(request->config_yaml(), "bad")) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(kBadConfigLine1, "\n", kBadConfigLine2));
  }
  // Idempotent retries: a known request id returns the job it created.
  if (auto it = by_request_id_.find(request->request_id());
      !request->request_id().empty() && it != by_request_id_.end()) {
    *job = jobs_[it->second];
    return grpc::Status::OK;
  }
  if (request->validate_only()) {
    job->set_config_yaml(request->config_yaml());
    job->set_display_name(request->display_name());
    job->set_priority(request->priority());
    return grpc::Status::OK;
  }
  const int64_t id = next_id_++;
  v1::Job created = NewJob(id, request->display_name(), v1::QUEUED, request->priority());
  created.set_config_yaml(request->config_yaml());
  scripts_[created.name()] = SuccessScript(created.name());
  created.set_last_sequence(0);
  jobs_[id] = created;
  if (!request->request_id().empty()) by_request_id_[request->request_id()] = id;
  *job = created;
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::GetJob(grpc::ServerContext*,
                                         const v1::GetJobRequest* request, v1::Job* job) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, existing] : jobs_) {
    if (existing.name() == request->name()) {
      *job = existing;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("job ", request->name(), " not found"));
}

grpc::Status FakeTrainingService::ListJobs(grpc::ServerContext* context,
                                           const v1::ListJobsRequest* request,
                                           v1::ListJobsResponse* response) {
  absl::MutexLock lock(&mu_);
  ++list_calls_;
  auto auth = context->client_metadata().find("authorization");
  last_authorization_ = auth == context->client_metadata().end()
                            ? ""
                            : std::string(auth->second.data(), auth->second.size());
  std::vector<v1::Job> matching;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {  // newest first
    if (request->state() == v1::JOB_STATE_UNSPECIFIED ||
        it->second.state() == request->state()) {
      matching.push_back(it->second);
    }
  }
  size_t start = 0;
  if (!request->page_token().empty() &&
      !absl::SimpleAtoi(request->page_token(), &start)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
  }
  const size_t end = std::min(matching.size(), start + 2);
  for (size_t i = start; i < end; ++i) *response->add_jobs() = matching[i];
  if (end < matching.size()) response->set_next_page_token(absl::StrCat(end));
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::CancelJob(grpc::ServerContext*,
                                            const v1::CancelJobRequest* request,
                                            v1::Job* job) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, existing] : jobs_) {
    if (existing.name() != request->name()) continue;
    if (Ended(existing.state())) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", existing.name(), " already ended (",
                                       v1::JobState_Name(existing.state()), ")"));
    }
    existing.set_state(v1::CANCELLED);
    *job = existing;
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("job ", request->name(), " not found"));
}

grpc::Status FakeTrainingService::WatchJob(grpc::ServerContext* context,
                                           const v1::WatchJobRequest* request,
                                           grpc::ServerWriter<v1::Event>* writer) {
  std::vector<v1::Event> events;
  bool break_after_3 = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = scripts_.find(request->name());
    if (it == scripts_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("job ", request->name(), " not found"));
    }
    events = it->second;
    watch_from_[request->name()].push_back(request->from_sequence());
    if (request->name() == "jobs/5" && !flaky_broken_) {
      flaky_broken_ = true;
      break_after_3 = true;
    }
  }
  const int64_t from = std::max<int64_t>(1, request->from_sequence());
  for (const v1::Event& e : events) {
    if (e.sequence() < from) continue;
    if (break_after_3 && e.sequence() > 3) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    }
    if (!writer->Write(e)) return grpc::Status::OK;
  }
  if (request->name() == "jobs/4") {  // still running: wait for the client to leave
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!context->IsCancelled() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::DownloadCheckpoint(
    grpc::ServerContext*, const v1::DownloadCheckpointRequest* request,
    grpc::ServerWriter<v1::CheckpointChunk>* writer) {
  std::vector<std::string> chunks;
  int64_t total = 0;
  if (request->name() == "jobs/1") {
    chunks = request->best() ? std::vector<std::string>{"BEST", "|ck", "pt"}
                             : std::vector<std::string>{"abc", "defg", "hi"};
    total = 9;
  } else if (request->name() == "jobs/5") {
    chunks = {"abc", "defg", "hi"};
    total = 100;  // the stream ends early
  } else {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no checkpoint of ", request->name(), " yet"));
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    v1::CheckpointChunk chunk;
    chunk.set_data(chunks[i]);
    if (i == 0) chunk.set_total_bytes(total);
    writer->Write(chunk);
  }
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::DeleteJob(grpc::ServerContext*,
                                            const v1::DeleteJobRequest* request,
                                            v1::DeleteJobResponse* response) {
  absl::MutexLock lock(&mu_);
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (it->second.name() != request->name()) continue;
    if (!Ended(it->second.state())) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("job ", request->name(), " is ",
                       v1::JobState_Name(it->second.state()), ": cancel it first"));
    }
    scripts_.erase(request->name());
    jobs_.erase(it);
    response->set_name(request->name());
    response->set_freed_bytes(4096);
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("job ", request->name(), " not found"));
}

grpc::Status FakeTrainingService::ResumeJob(grpc::ServerContext*,
                                            const v1::ResumeJobRequest* request,
                                            v1::Job* job) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, existing] : jobs_) {
    if (existing.name() != request->name()) continue;
    if (existing.state() != v1::CANCELLED && existing.state() != v1::FAILED) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", request->name(), " is ",
                                       v1::JobState_Name(existing.state()),
                                       ": only CANCELLED or FAILED jobs resume"));
    }
    existing.set_state(v1::QUEUED);
    existing.set_error("");
    *job = existing;
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("job ", request->name(), " not found"));
}

grpc::Status FakeTrainingService::CreateSweep(grpc::ServerContext*,
                                              const v1::CreateSweepRequest* request,
                                              v1::Sweep* sweep) {
  if (request->sweep().config_yaml().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "sweep.config_yaml: required");
  }
  *sweep = request->sweep();
  sweep->set_name("sweeps/2");
  sweep->set_state(v1::SWEEP_RUNNING);
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::GetSweep(grpc::ServerContext*,
                                           const v1::GetSweepRequest* request,
                                           v1::Sweep* sweep) {
  absl::MutexLock lock(&mu_);
  if (request->name() != sweep_.name()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("sweep ", request->name(), " not found"));
  }
  *sweep = sweep_;
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::ListSweeps(grpc::ServerContext*,
                                             const v1::ListSweepsRequest*,
                                             v1::ListSweepsResponse* response) {
  absl::MutexLock lock(&mu_);
  *response->add_sweeps() = sweep_;
  return grpc::Status::OK;
}

grpc::Status FakeTrainingService::CancelSweep(grpc::ServerContext*,
                                              const v1::CancelSweepRequest* request,
                                              v1::Sweep* sweep) {
  absl::MutexLock lock(&mu_);
  if (request->name() != sweep_.name()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("sweep ", request->name(), " not found"));
  }
  sweep_.set_state(v1::SWEEP_CANCELLED);
  *sweep = sweep_;
  return grpc::Status::OK;
}

void FakeTrainingService::SetConfig(const std::string& job,
                                    const std::string& config_yaml, uint64_t seed) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, existing] : jobs_) {
    if (existing.name() != job) continue;
    existing.set_config_yaml(config_yaml);
    existing.set_seed(seed);
  }
}

void FakeTrainingService::FailNextCreates(int n) {
  absl::MutexLock lock(&mu_);
  fail_creates_ = n;
}

void FakeTrainingService::SetScript(const std::string& job,
                                    std::vector<v1::Event> events) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, existing] : jobs_) {
    if (existing.name() == job) {
      existing.set_last_sequence(static_cast<int64_t>(events.size()));
    }
  }
  scripts_[job] = std::move(events);
}

std::vector<v1::CreateJobRequest> FakeTrainingService::create_requests() {
  absl::MutexLock lock(&mu_);
  return create_requests_;
}

std::vector<int64_t> FakeTrainingService::watch_from_sequences(const std::string& job) {
  absl::MutexLock lock(&mu_);
  return watch_from_[job];
}

int FakeTrainingService::list_calls() {
  absl::MutexLock lock(&mu_);
  return list_calls_;
}

std::string FakeTrainingService::last_authorization() {
  absl::MutexLock lock(&mu_);
  return last_authorization_;
}

size_t FakeTrainingService::job_count() {
  absl::MutexLock lock(&mu_);
  return jobs_.size();
}

FakeServer::FakeServer() {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  EXPECT_NE(server_, nullptr);
  EXPECT_GT(port, 0);
  address_ = absl::StrCat("127.0.0.1:", port);
}

FakeServer::~FakeServer() {
  if (server_ != nullptr)
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace edbp::cli::testing

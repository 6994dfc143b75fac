// libFuzzer target: the worker report handler (WorkerServiceImpl::Report,
// server/service.h) through its public interface, against a real JobStore (SQLite in
// a tmpfs directory), MetricsHub, ServerMetrics and Scheduler holding one RUNNING job
// (its "edbp-train" is a shell script that sleeps).
// Input: a serialized v1::ReportRequest; one whose job_id is empty gets the running
// job's id, and attempt 0 the running attempt (1), so that most inputs reach past the
// fence. Invariants: the handler answers (any code); an OK answer stored exactly one
// event, or none for a training record (Event.record) the job has stored already.
// Every kRenewEvery inputs the server is rebuilt on a fresh directory: the hub keeps a
// job's events in memory, and a fuzzing run sends millions.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "base/check.h"
#include "base/job_name.h"
#include "edbp/v1/worker.pb.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/tiny_network.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/grpcpp.h"
#include "server/job_store.h"
#include "server/launcher.h"
#include "server/local_executor.h"
#include "server/metrics_hub.h"
#include "server/prometheus_metrics.h"
#include "server/scheduler.h"
#include "server/service.h"

namespace {

namespace fs = std::filesystem;
using namespace edbp::server;  // NOLINT(google-build-using-namespace): a test driver

constexpr int kRenewEvery = 20000;

// One server's worth of state with one RUNNING job.
class Server {
 public:
  explicit Server(const fs::path& dir) : dir_(dir) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_);
    const fs::path program = dir_ / "sleeper.sh";
    {
      std::ofstream out(program);
      out << "#!/bin/sh\nexec sleep infinity\n";
    }
    fs::permissions(program, fs::perms::owner_all);
    auto store = JobStore::Open((dir_ / "jobs.db").string());
    EDBP_CHECK(store.ok()) << store.status();
    store_ = *std::move(store);
    hub_ = std::make_unique<MetricsHub>(store_.get());
    metrics_ =
        std::make_unique<ServerMetrics>(store_.get(), std::vector<std::string>{"cpu:0"});
    SchedulerOptions options;
    options.data_dir = dir_.string();
    options.train_program = program.string();
    options.worker_address = "unix:" + (dir_ / "worker.sock").string();
    options.slots = {"cpu:0"};
    options.grace = std::chrono::milliseconds(100);
    launcher_ = std::make_unique<Launcher>();
    executor_ = std::make_unique<LocalExecutor>(launcher_.get());
    scheduler_ = std::make_unique<Scheduler>(store_.get(), hub_.get(), executor_.get(),
                                             std::move(options));
    edbp::v1::Job draft;
    draft.set_display_name("fuzz");
    draft.set_config_yaml(edbp::fuzz::kTinyNetworkYaml);
    draft.set_epochs(2);
    auto created = scheduler_->Submit(std::move(draft), "");
    EDBP_CHECK(created.ok()) << created.status();
    auto id = edbp::JobIdFromName(created->first.name());
    EDBP_CHECK(id.ok()) << id.status();
    job_id_ = *id;
    EDBP_CHECK(scheduler_->CheckReporter(job_id_, 1).ok()) << "the sleeper did not start";
    worker_ =
        std::make_unique<WorkerServiceImpl>(hub_.get(), scheduler_.get(), metrics_.get());
  }
  // The launcher goes first: it kills the sleeper and reports its exit to the
  // scheduler, which writes it to the store.
  ~Server() {
    launcher_.reset();
    worker_.reset();
    scheduler_.reset();
    executor_.reset();
    metrics_.reset();
    hub_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  const std::string& job_id() const { return job_id_; }
  JobStore& store() { return *store_; }
  WorkerServiceImpl& worker() { return *worker_; }

 private:
  const fs::path dir_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<MetricsHub> hub_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<Launcher> launcher_;
  std::unique_ptr<LocalExecutor> executor_;  // runs the job through launcher_
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<WorkerServiceImpl> worker_;
  std::string job_id_;
};

// Not a static object: destroyed by an exit handler registered after spdlog's logger
// registry was made, so before the registry is destroyed (the launcher's last exit
// report logs through it).
Server* server = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Inputs with invalid UTF-8 in strings fail to parse; protobuf would log each.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int inputs = 0;
  if (server == nullptr || ++inputs % kRenewEvery == 0) {
    const bool first = server == nullptr;
    delete server;  // before its successor takes the directory
    server = new Server(edbp::fuzz::ScratchDir() / "server");
    if (first) {
      std::atexit([] {
        delete server;
        server = nullptr;
      });
    }
  }
  edbp::v1::ReportRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (request.job_id().empty()) request.set_job_id(server->job_id());
  if (request.attempt() == 0) request.set_attempt(1);

  const bool ours = request.job_id() == server->job_id();
  const edbp::v1::Job job_before =
      ours ? *server->store().GetJob(server->job_id()) : edbp::v1::Job();
  const int64_t before = job_before.last_sequence();
  const bool replay = request.event().record() > 0 &&
                      request.event().record() <= job_before.last_record();
  grpc::ServerContext context;
  edbp::v1::ReportResponse response;
  const grpc::Status status = server->worker().Report(&context, &request, &response);
  if (status.ok()) {
    EDBP_FUZZ_ASSERT(ours, "OK for a job that is not running");
    const int64_t after = server->store().GetJob(server->job_id())->last_sequence();
    EDBP_FUZZ_ASSERT(after == before + (replay ? 0 : 1),
                     "OK but not exactly one event stored (none for a replay)");
  }
  return 0;
}

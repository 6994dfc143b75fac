// edbp-server end to end on 127.0.0.1 with a random port and a temporary data dir:
// real edbp-train job processes on a Fashion-MNIST subset.
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"
#include "tests/process_util.h"
#include "tests/wait_until.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using testing::ProcessesWith;
using testing::ServerTest;
using testing::TinyConfig;

TEST_F(ServerTest, SubmitWatchSucceedAndDownload) {
  const v1::Job job = Create(TinyConfig(2, 300));
  ASSERT_EQ(job.name().rfind("jobs/", 0), 0u);
  EXPECT_EQ(job.epochs(), 2);
  const std::vector<v1::Event> events = Watch(job.name());
  ExpectContiguous(events);
  std::vector<v1::JobState> states;
  int epochs = 0, progress = 0, checkpoints = 0;
  for (const v1::Event& e : events) {
    if (e.has_state_change()) states.push_back(e.state_change().state());
    if (e.has_progress()) ++progress;
    if (e.has_checkpoint_saved()) ++checkpoints;
    if (e.has_epoch_metrics()) {
      ++epochs;
      EXPECT_EQ(e.epoch_metrics().layers_size(), 4);
      EXPECT_EQ(e.epoch_metrics().confusion_size(), 100);
      EXPECT_GT(e.epoch_metrics().test_accuracy(), 0.1);
    }
  }
  EXPECT_EQ(states, (std::vector<v1::JobState>{v1::QUEUED, v1::RUNNING, v1::SUCCEEDED}));
  EXPECT_EQ(epochs, 2);
  EXPECT_GT(progress, 0);
  EXPECT_GE(checkpoints, 2);
  const v1::Job done = Get(job.name());
  EXPECT_EQ(done.state(), v1::SUCCEEDED);
  EXPECT_EQ(done.last_epoch(), 2);
  EXPECT_GT(done.best_test_accuracy(), 0.1);
  EXPECT_EQ(done.last_sequence(), static_cast<int64_t>(events.size()));
  EXPECT_EQ(done.device(), "cpu:0");

  // Download the best checkpoint and evaluate it with edbp-train.
  grpc::ClientContext ctx;
  v1::DownloadCheckpointRequest req;
  req.set_name(job.name());
  req.set_best(true);
  auto reader = server_->stub().DownloadCheckpoint(&ctx, req);
  std::string bytes;
  v1::CheckpointChunk chunk;
  int64_t total = -1;
  while (reader->Read(&chunk)) {
    if (total < 0) total = chunk.total_bytes();
    bytes += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), total);
  const fs::path file = dir_ / "best.safetensors";
  std::ofstream(file, std::ios::binary) << bytes;
  const std::string cmd =
      std::string(EDBP_TRAIN_BIN) +
      " configs/small.yaml --evaluate --data-limit 300 --init-weights " + file.string() +
      " > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);

  // Issue 20: the same checkpoint as NIR through edbp-client (converted on the client's
  // side with the config the checkpoint holds): an HDF5 file, and no temporary left.
  const fs::path nir = dir_ / "best.nir";
  testing::CommandResult r = testing::RunCommand(
      std::string(EDBP_CLIENT_BIN) + " --server " + server_->address() + " download " +
      job.name() + " --best --format nir -o " + nir.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("as NIR in " + nir.string()), std::string::npos) << r.output;
  std::ifstream in(nir, std::ios::binary);
  std::string signature(8, '\0');
  in.read(signature.data(), 8);
  EXPECT_EQ(signature, std::string("\x89HDF\r\n\x1a\n", 8));
  EXPECT_FALSE(fs::exists(nir.string() + ".checkpoint"));
  // edbp-train exports it too; a checkpoint of another network or an unwritable path
  // is an error naming what is wrong, and leaves no file.
  const std::string train = std::string(EDBP_TRAIN_BIN) + " configs/";
  const std::string weights = " --init-weights " + file.string() + " --export-nir ";
  r = testing::RunCommand(train + "small.yaml" + weights + (dir_ / "t.nir").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "t.nir"));
  r = testing::RunCommand(train + "cifar10.yaml" + weights + (dir_ / "m.nir").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("net.0.weight"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "m.nir"));
  r = testing::RunCommand(train + "small.yaml" + weights + "/nonexistent-dir/x.nir");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(
      r.output.find("cannot write /nonexistent-dir/x.nir: No such file or directory"),
      std::string::npos)
      << r.output;
}

TEST_F(ServerTest, WatchersSeeTheSameStreamAndLateOnesGetTheReplay) {
  const v1::Job job = Create(TinyConfig(3, 600));
  std::vector<std::vector<v1::Event>> seen(53);
  std::vector<std::thread> threads;
  threads.reserve(51);
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] { seen[i] = Watch(job.name()); });
  }
  // A watcher joining mid-run gets the replay, then the live events.
  EXPECT_TRUE(WaitForFirstEpoch(job.name()));
  const bool joined_live = Get(job.name()).state() == v1::RUNNING;
  threads.emplace_back([&] { seen[52] = Watch(job.name()); });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(joined_live) << "the job ended before the late watcher joined";
  ASSERT_EQ(Get(job.name()).state(), v1::SUCCEEDED);
  seen[50] = Watch(job.name());  // after the end: the full replay
  seen[51] = Watch(job.name(), 3);
  ExpectContiguous(seen[0]);
  ASSERT_GT(seen[0].size(), 4u);
  for (int i = 1; i <= 52; ++i) {
    if (i == 51) continue;
    ASSERT_EQ(seen[i].size(), seen[0].size()) << "watcher " << i;
    for (size_t k = 0; k < seen[0].size(); ++k) {
      ASSERT_EQ(seen[i][k].SerializeAsString(), seen[0][k].SerializeAsString());
    }
  }
  ASSERT_EQ(seen[51].size(), seen[0].size() - 2);
  EXPECT_EQ(seen[51][0].sequence(), 3);
}

TEST_F(ServerTest, ValidationAndIdempotentCreate) {
  grpc::ClientContext ctx;
  v1::CreateJobRequest req;
  std::string bad = TinyConfig(1, 100);
  bad.replace(bad.find("n_inputs: 640"), 13, "n_inputs: 600");
  bad.replace(bad.find("tau_s: 3"), 8, "tau_s: 5");
  req.set_config_yaml(bad);
  v1::Job job;
  const grpc::Status s = server_->stub().CreateJob(&ctx, req, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("Layers.FC_1.n_inputs: expected 640"),
            std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("tau_m"), std::string::npos) << s.error_message();

  grpc::ClientContext ctx2;
  req.set_config_yaml(TinyConfig(1, 100));
  req.set_validate_only(true);
  ASSERT_TRUE(server_->stub().CreateJob(&ctx2, req, &job).ok());
  EXPECT_EQ(job.name(), "");

  const v1::Job a = Create(TinyConfig(1, 100), 0, "retry-1");
  const v1::Job b = Create(TinyConfig(1, 100), 0, "retry-1");
  EXPECT_EQ(a.name(), b.name());
  grpc::ClientContext ctx3;
  v1::ListJobsResponse list;
  ASSERT_TRUE(server_->stub().ListJobs(&ctx3, v1::ListJobsRequest(), &list).ok());
  EXPECT_EQ(list.jobs_size(), 1);
  grpc::ClientContext ctx4;
  v1::GetJobRequest get;
  get.set_name("jobs/999");
  EXPECT_EQ(server_->stub().GetJob(&ctx4, get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, CancelARunningJobKeepsItsCheckpoint) {
  const v1::Job job = Create(TinyConfig(50, 1000));
  ASSERT_TRUE(WaitForFirstEpoch(job.name()));
  const std::string id = job.name().substr(5);
  ASSERT_FALSE(ProcessesWith(JobDir(id)).empty());
  const auto t0 = std::chrono::steady_clock::now();
  grpc::ClientContext ctx;
  v1::CancelJobRequest req;
  req.set_name(job.name());
  v1::Job after;
  ASSERT_TRUE(server_->stub().CancelJob(&ctx, req, &after).ok());
  const v1::Job cancelled = WaitFor(job.name(), v1::CANCELLED, 10s);
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_TRUE(ProcessesWith(JobDir(id)).empty());
  EXPECT_TRUE(fs::exists(dir_ / "jobs" / id / "checkpoint_last.safetensors"));
  grpc::ClientContext ctx2;
  EXPECT_EQ(server_->stub().CancelJob(&ctx2, req, &after).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ServerTest, KilledServerResumesItsJobsOnRestart) {
  const v1::Job first = Create(TinyConfig(1, 200));
  ASSERT_EQ(WaitFor(first.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
  const v1::Job job = Create(TinyConfig(3, 600));
  ASSERT_TRUE(WaitForFirstEpoch(job.name()));
  const size_t first_events = Watch(first.name()).size();
  server_->Kill(SIGKILL);
  server_->Start();
  EXPECT_EQ(WaitFor(job.name(), v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const std::vector<v1::Event> events = Watch(job.name());
  ExpectContiguous(events);
  int epochs = 0, first_epoch = 0, requeued = 0;
  for (const v1::Event& e : events) {
    epochs += e.has_epoch_metrics();
    first_epoch += e.has_epoch_metrics() && e.epoch_metrics().epoch() == 1;
    requeued += e.has_log() && e.log().text().find("re-queued") != std::string::npos;
  }
  // It resumed from its checkpoint (epoch 1 was not trained again), and the old
  // trainer's last reports, refused or spooled, were stored once.
  EXPECT_EQ(epochs, 3);
  EXPECT_EQ(first_epoch, 1);
  ExpectRecordsOnceInOrder(events);
  EXPECT_EQ(Get(job.name()).attempt(), 2);
  EXPECT_EQ(requeued, 1);
  EXPECT_EQ(Get(job.name()).last_epoch(), 3);
  EXPECT_EQ(Watch(first.name()).size(), first_events);
  EXPECT_EQ(Get(first.name()).state(), v1::SUCCEEDED);
}

// Issue 17: one server per data dir (a second one would re-queue the running jobs, start
// second trainers and take the worker socket) and per port (with SO_REUSEPORT both
// would bind it and split the clients). The restart after kill -9 above shows the lock
// dies with its holder.
TEST_F(ServerTest, ASecondServerOnTheDataDirOrThePortRefusesToStart) {
  const std::string bin = EDBP_SERVER_BIN;
  // `timeout`: a second server that did start would serve until killed (status 124).
  testing::CommandResult r = testing::RunCommand(
      "timeout 30 " + bin + " --listen=127.0.0.1:0 --data-dir=" + dir_.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(
      r.output.find(absl::StrCat("is in use by edbp-server (pid ", server_->pid(), ")")),
      std::string::npos)
      << r.output;

  const fs::path other = dir_ / "other";
  r = testing::RunCommand("timeout 30 " + bin + " --listen=" + server_->address() +
                          " --data-dir=" + other.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot listen on " + server_->address()), std::string::npos)
      << r.output;

  // The first server goes on: its socket is in place and it answers.
  EXPECT_TRUE(fs::exists(dir_ / "worker.sock"));
  const v1::Job job = Create(TinyConfig(1, 100));
  EXPECT_EQ(WaitFor(job.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
}

// Issue 17: strings that would cost the server or its clients (a name of megabytes
// broke ListJobs for everyone; escape sequences reached terminals raw), invalid UTF-8
// (it was INTERNAL with no message), and a request id reused for another config (it
// returned the first job silently) are refused, naming the field.
TEST_F(ServerTest, HostileStringsAndAReusedRequestIdAreRefused) {
  const std::string config = TinyConfig(1, 100);
  grpc::Status s = TryCreate(config, std::string(3900000, 'n'), "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "display_name: 3900000 bytes, more than the limit of 256");
  s = TryCreate(config, "job\x1b[2J", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "display_name: control character U+001B at byte 3");
  // (Invalid UTF-8 cannot reach the server: a proto string must be UTF-8, and gRPC
  // refuses such a request before the service sees it. edbp-client checks the file
  // first: client_test's SubmitInvalidUtf8ConfigExits5.)

  ASSERT_TRUE(TryCreate(config, "first", "req-x").ok());
  EXPECT_TRUE(TryCreate(config, "retry", "req-x").ok());  // a retry: the first job
  s = TryCreate(TinyConfig(2, 100), "first", "req-x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_NE(s.error_message().find("request_id req-x was used for jobs/1"),
            std::string::npos)
      << s.error_message();

  grpc::ClientContext ctx;
  v1::ListJobsRequest list;
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(server_->stub().ListJobs(&ctx, list, &jobs).ok());
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).display_name(), "first");
}

// Issue 17: a job wrote its frame cache wherever Network.cache_path said (any absolute
// path, or out through ".."); it is held to --data-roots as data_path is.
TEST_F(ServerTest, ACachePathOutsideTheDataRootsIsRefused) {
  for (const std::string& path :
       {std::string("/tmp/evil_cache"),
        std::string("/usr/share/datasets/../../tmp/evil_cache")}) {
    std::string yaml = TinyConfig(1, 100);
    yaml.replace(yaml.find("n_steps: 5"), 10,
                 "n_steps: 5\n  cache_path: \"" + path + "\"");
    const grpc::Status s = TryCreate(yaml);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_NE(s.error_message().find("Network.cache_path: \"" + path +
                                     "\" is outside the server's data roots"),
              std::string::npos)
        << s.error_message();
  }
}

// Issue 17: the data dir and what the server and its jobs write are private to the
// server's user (edbp.sqlite, config.yaml and train.log were 0644).
TEST_F(ServerTest, TheDataDirAndItsFilesArePrivate) {
  const v1::Job job = Create(TinyConfig(1, 100));
  ASSERT_EQ(WaitFor(job.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
  const auto mode = [](const fs::path& p) {
    return fs::status(p).permissions() & fs::perms::mask;
  };
  EXPECT_EQ(mode(dir_), fs::perms::owner_all);
  const std::string id = job.name().substr(5);
  for (const fs::path& file :
       {dir_ / "edbp.sqlite", dir_ / "edbp.lock", dir_ / "jobs" / id / "config.yaml",
        dir_ / "jobs" / id / "train.log",
        dir_ / "jobs" / id / "checkpoint_last.safetensors"}) {
    ASSERT_TRUE(fs::exists(file)) << file;
    EXPECT_EQ(mode(file), fs::perms::owner_read | fs::perms::owner_write) << file;
  }
}

// Issue 17: n_steps: 10000000 passed validation and failed at run time on a 1.5 TB
// allocation; the server now refuses it at submit from the config's shapes.
TEST_F(ServerTest, AJobTooLargeForTheMachineIsRefusedAtSubmit) {
  std::string yaml = TinyConfig(1, 100);
  yaml.replace(yaml.find("n_steps: 5"), 10, "n_steps: 10000000");
  const grpc::Status s = TryCreate(yaml);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("Network: the job's tensors need about"),
            std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("--max-job-memory-gib"), std::string::npos);
  // The small job itself fits.
  EXPECT_EQ(WaitFor(Create(TinyConfig(1, 100)).name(), v1::SUCCEEDED, 120s).state(),
            v1::SUCCEEDED);
}

TEST_F(ServerTest, KilledJobFailsAndTheNextOneRuns) {
  const v1::Job a = Create(TinyConfig(50, 1000));
  const v1::Job b = Create(TinyConfig(1, 200));
  ASSERT_EQ(WaitFor(a.name(), v1::RUNNING).state(), v1::RUNNING);
  const std::string id = a.name().substr(5);
  std::vector<pid_t> pids;
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return !(pids = ProcessesWith(JobDir(id))).empty(); }, 20s, 50ms));
  for (pid_t p : pids) kill(p, SIGKILL);
  const v1::Job failed = WaitFor(a.name(), v1::FAILED, 20s);
  EXPECT_EQ(failed.state(), v1::FAILED);
  EXPECT_NE(failed.error().find("signal 9"), std::string::npos) << failed.error();
  EXPECT_EQ(WaitFor(b.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
}

TEST_F(ServerTest, HigherPriorityRunsFirst) {
  const v1::Job a = Create(TinyConfig(1, 300));
  ASSERT_EQ(WaitFor(a.name(), v1::RUNNING).state(), v1::RUNNING);
  const v1::Job low = Create(TinyConfig(1, 100), 0);
  const v1::Job high = Create(TinyConfig(1, 100), 5);
  ASSERT_EQ(WaitFor(low.name(), v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const v1::Job h = Get(high.name());
  const v1::Job l = Get(low.name());
  ASSERT_EQ(h.state(), v1::SUCCEEDED);
  EXPECT_LT(h.start_time().seconds() * 1000000000LL + h.start_time().nanos(),
            l.start_time().seconds() * 1000000000LL + l.start_time().nanos());
}

// WatchJob under load (issue 17): edbp-fake-train as the train program (its plan in
// a "# fake-train:" comment of the config), no event cache (every replay comes from the
// store), /metrics for the watcher gauge.
class StreamingTest : public ServerTest {
 protected:
  std::vector<std::string> ServerFlags() const override {
    return {std::string("--train-program=") + EDBP_FAKE_TRAIN_BIN, "--event-cache-mib=0",
            "--cpu-slots=2", "--metrics-listen=127.0.0.1:0"};
  }

  // A job of the fake trainer: `plan` as in bench/fake_train.cc.
  v1::Job CreateFake(const std::string& plan) {
    return Create("# fake-train: " + plan + "\n" + TinyConfig(1, 100));
  }

  // Threads of the server process (/proc/PID/status).
  int ServerThreads() const {
    std::ifstream status("/proc/" + std::to_string(server_->pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    }
    return -1;
  }

  // The value of the edbp_watchers gauge on /metrics (-1 when absent).
  double WatchersGauge() const {
    const std::string text = testing::HttpGet(server_->metrics_address(), "/metrics");
    const size_t at = text.find("\nedbp_watchers ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + 15));
  }
};

TEST_F(StreamingTest, AWatcherFromSequenceOneAfterEvictionGetsEveryEvent) {
  const v1::Job job = CreateFake("events=40");
  ASSERT_EQ(WaitFor(job.name(), v1::SUCCEEDED).state(), v1::SUCCEEDED);
  // QUEUED, RUNNING, 39 progress records, the epoch's metrics, SUCCEEDED: all from the
  // store (the cache holds nothing).
  const std::vector<v1::Event> all = Watch(job.name(), 1, 30s);
  ASSERT_EQ(all.size(), 43u);
  ExpectContiguous(all);
  EXPECT_EQ(all[0].state_change().state(), v1::QUEUED);
  EXPECT_EQ(all[1].state_change().state(), v1::RUNNING);
  EXPECT_EQ(all[2].progress().batch(), 1);
  EXPECT_EQ(all[40].progress().batch(), 39);
  EXPECT_EQ(all[41].epoch_metrics().epoch(), 1);
  EXPECT_EQ(all[42].state_change().state(), v1::SUCCEEDED);
  const std::vector<v1::Event> tail = Watch(job.name(), 40, 30s);
  ASSERT_EQ(tail.size(), 4u);
  EXPECT_EQ(tail[0].sequence(), 40);
  EXPECT_TRUE(Watch(job.name(), 44, 30s).empty());  // past the end: at once, OK
  EXPECT_EQ(Get(job.name()).last_sequence(), 43);
}

TEST_F(StreamingTest, TwoHundredWatchersNeedNoThreadEach) {
  constexpr int kWatchers = 200;
  const int idle_threads = ServerThreads();
  ASSERT_GT(idle_threads, 0);
  // The job waits until the watchers are in place, then streams for a second.
  const v1::Job job = CreateFake("events=50 interval_ms=20 delay_ms=6000");
  std::atomic<int> open{0};
  std::vector<std::vector<v1::Event>> seen(kWatchers);
  std::vector<grpc::Status> statuses(kWatchers);
  std::vector<std::thread> threads;
  threads.reserve(kWatchers);
  for (int i = 0; i < kWatchers; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 60s);
      v1::WatchJobRequest req;
      req.set_name(job.name());
      auto reader = server_->stub().WatchJob(&ctx, req);
      v1::Event e;
      while (reader->Read(&e)) {
        if (seen[i].empty()) ++open;
        seen[i].push_back(e);
      }
      statuses[i] = reader->Finish();
    });
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return open.load() == kWatchers; }, 20s, 20ms));
  int peak = ServerThreads();
  EXPECT_EQ(WatchersGauge(), kWatchers);
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        peak = std::max(peak, ServerThreads());
        return Get(job.name()).state() == v1::SUCCEEDED;
      },
      60s, 50ms));
  for (std::thread& t : threads) t.join();
  std::printf("server threads: %d idle, at most %d with %d watchers\n", idle_threads,
              peak, kWatchers);
  // The synchronous API held one thread per stream: 200 more. gRPC's callback
  // executor and the job's launcher threads add a handful.
  EXPECT_LT(peak, idle_threads + 40) << "idle " << idle_threads;
  for (int i = 0; i < kWatchers; ++i) {
    ASSERT_TRUE(statuses[i].ok())
        << "watcher " << i << ": " << statuses[i].error_message();
    ASSERT_EQ(seen[i].size(), 53u) << "watcher " << i;
    ExpectContiguous(seen[i]);
    EXPECT_EQ(seen[i].back().state_change().state(), v1::SUCCEEDED);
  }
  EXPECT_TRUE(testing::WaitUntil([&] { return WatchersGauge() == 0; }, 5s, 20ms));
}

TEST_F(StreamingTest, AWatcherThatDisconnectsMidStreamLeavesTheOthersWhole) {
  const v1::Job job = CreateFake("events=60 interval_ms=25");
  grpc::ClientContext quitter_ctx;
  v1::WatchJobRequest req;
  req.set_name(job.name());
  auto quitter = server_->stub().WatchJob(&quitter_ctx, req);
  std::vector<v1::Event> full;
  std::thread stayer([&] { full = Watch(job.name(), 1, 60s); });
  v1::Event e;
  int read = 0;
  while (read < 5 && quitter->Read(&e)) ++read;
  ASSERT_EQ(read, 5);
  ASSERT_EQ(e.sequence(), 5);
  quitter_ctx.TryCancel();
  while (quitter->Read(&e)) {
  }
  EXPECT_EQ(quitter->Finish().error_code(), grpc::StatusCode::CANCELLED);
  stayer.join();
  ASSERT_EQ(full.size(), 63u);
  ExpectContiguous(full);
  EXPECT_EQ(full.back().state_change().state(), v1::SUCCEEDED);
  // Both streams are gone from the gauge, the cancelled one included.
  EXPECT_TRUE(testing::WaitUntil([&] { return WatchersGauge() == 0; }, 5s, 20ms));
  EXPECT_EQ(Watch(job.name()).size(), 63u);  // the server still serves
}

TEST_F(StreamingTest, ShutdownEndsStreamsWithUnavailable) {
  const v1::Job job = CreateFake("events=3 delay_ms=600000");
  ASSERT_EQ(WaitFor(job.name(), v1::RUNNING).state(), v1::RUNNING);
  std::vector<grpc::Status> statuses(3);
  std::vector<int64_t> last(3, 0);
  std::atomic<int> open{0};
  std::vector<std::thread> threads;
  threads.reserve(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 60s);
      v1::WatchJobRequest req;
      req.set_name(job.name());
      auto reader = server_->stub().WatchJob(&ctx, req);
      v1::Event e;
      while (reader->Read(&e)) {
        if (last[i] == 0) ++open;
        last[i] = e.sequence();
      }
      statuses[i] = reader->Finish();
    });
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return open.load() == 3; }, 10s, 10ms));
  const auto t0 = std::chrono::steady_clock::now();
  kill(server_->pid(), SIGTERM);
  for (std::thread& t : threads) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::UNAVAILABLE) << i;
    EXPECT_EQ(statuses[i].error_message(), "the server is shutting down") << i;
    // QUEUED, RUNNING, then QUEUED again: the drained job is re-queued, and a warning
    // says so (it resumes from its checkpoint when the server comes back), both
    // appended before the streams end.
    EXPECT_EQ(last[i], 4) << i;
  }
}

TEST(ClientCli, ClosedPortIsAOneLineErrorAndNonZeroExit) {
  // Port 1 on loopback: nothing listens there (binding it needs privileges).
  const std::string cmd =
      std::string(EDBP_CLIENT_BIN) + " --server 127.0.0.1:1 list 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  EXPECT_NE(WEXITSTATUS(st), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("cannot reach edbp-server"), std::string::npos) << out;
}

// Issue 19 item 8: a data_path the job could not read is refused at submit, naming
// Network.data_path, the path and what is missing; not a job that fails later. Its own
// server, whose only data root is a temporary directory: runs without any data set.
class DataPathAtSubmit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edbp_data_path_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "store");
    roots_ = dir_ / "roots";
    fs::create_directories(roots_ / "empty");
    std::ofstream(roots_ / "file") << "not a directory";
    for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
      fs::create_directories(roots_ / "complete");
      std::ofstream(roots_ / "complete" / name) << "";
    }
    server_ = std::make_unique<testing::ServerProcess>(dir_ / "store");
    server_->Start({"--data-roots=" + roots_.string()});
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  // The tiny config reading its data from `path` (written into the YAML as it is).
  static std::string WithDataPath(const std::string& path) {
    std::string yaml = TinyConfig(1, 100);
    const std::string old = "data_path: \"/usr/share/datasets/fashion-mnist\"";
    yaml.replace(yaml.find(old), old.size(), "data_path: \"" + path + "\"");
    return yaml;
  }

  grpc::Status Create(const std::string& yaml) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    v1::CreateJobRequest req;
    req.set_config_yaml(yaml);
    req.set_validate_only(true);
    v1::Job job;
    return server_->stub().CreateJob(&ctx, req, &job);
  }

  fs::path dir_;
  fs::path roots_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(DataPathAtSubmit, WhatTheJobCouldNotReadIsRefused) {
  const std::string root = roots_.string();
  struct Case {
    std::string path;  // as written in the YAML
    std::string message;
  };
  const Case cases[] = {
      {root + "/missing", "Network.data_path: \"" + root + "/missing\" does not exist"},
      {root + "/empty",
       "Network.data_path: \"" + root +
           "/empty\" holds no train-images-idx3-ubyte[.gz] (FashionMNIST reads "
           "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
           "t10k-labels-idx1-ubyte, each raw or .gz)"},
      {root + "/file", "Network.data_path: \"" + root + "/file\" is not a directory"},
      // YAML escapes: a terminal escape is refused before any message quotes it; other
      // characters are a path like any (this one does not exist).
      {root + "/\\e[2J", "Network.data_path: control character U+001B at byte " +
                             std::to_string(root.size() + 1)},
      {root + "/\\x01", "Network.data_path: control character U+0001 at byte " +
                            std::to_string(root.size() + 1)},
      {root + "/\\xff\\u00e9", "Network.data_path: \"" + root +
                                   "/\xc3\xbf\xc3\xa9\" does "
                                   "not exist"},
  };
  for (const Case& c : cases) {
    const grpc::Status s = Create(WithDataPath(c.path));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.path;
    EXPECT_EQ(s.error_message(), c.message) << c.path;
  }
  // The four files there (their content is the job's to read): accepted.
  const grpc::Status ok = Create(WithDataPath(root + "/complete"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  // The roots still come first: outside them, the path is not looked at.
  const grpc::Status outside = Create(WithDataPath("/nonexistent/mnist"));
  EXPECT_NE(outside.error_message().find("is outside the server's data roots"),
            std::string::npos)
      << outside.error_message();
}

// Every trial of a sweep goes through the same check before any job exists.
TEST_F(DataPathAtSubmit, ASweepsTrialsAreCheckedToo) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  v1::CreateSweepRequest req;
  req.mutable_sweep()->set_config_yaml(WithDataPath(roots_.string() + "/empty"));
  v1::GridParameter* grid = req.mutable_sweep()->add_grid();
  grid->set_key("Network.lr");
  grid->add_values("1e-4");
  grid->add_values("1e-3");
  v1::Sweep sweep;
  const grpc::Status s = server_->stub().CreateSweep(&ctx, req, &sweep);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::string missing = "Network.data_path: \"" + roots_.string() +
                              "/empty\" holds no train-images-idx3-ubyte[.gz]";
  EXPECT_NE(s.error_message().find("trial 0 (Network.lr=1e-4): " + missing),
            std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("trial 1 (Network.lr=1e-3): " + missing),
            std::string::npos)
      << s.error_message();
}

}  // namespace
}  // namespace edbp

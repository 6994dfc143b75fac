// Issue 17 end to end: one trainer per job directory, stale attempts fenced off, and
// nothing lost while the server is away (server_fixture.h: a real edbp-server with real
// edbp-train jobs).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"
#include "tests/process_util.h"
#include "tests/wait_until.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using ::testing::HasSubstr;
using testing::ProcessesWith;
using testing::ServerTest;
using testing::TinyConfig;

// Events of one kind, by the field that identifies them.
std::vector<int64_t> EpochsOf(const std::vector<v1::Event>& events) {
  std::vector<int64_t> epochs;
  for (const v1::Event& e : events) {
    if (e.has_epoch_metrics()) epochs.push_back(e.epoch_metrics().epoch());
  }
  return epochs;
}

// Every progress record of an epoch, once and in order: one per 20 batches (the default
// progress_every) and one at the end of the training pass, then the same for the test
// pass (issue 19).
void ExpectEveryProgressRecordOnce(const std::vector<v1::Event>& events) {
  // (epoch, test pass) -> batches reported
  std::map<std::pair<int64_t, bool>, std::vector<int64_t>> batches;
  int64_t per_pass[2] = {0, 0};  // batches of the training and the test pass
  for (const v1::Event& e : events) {
    if (!e.has_progress()) continue;
    const bool test = e.progress().phase() == v1::Progress::TEST;
    batches[{e.progress().epoch(), test}].push_back(e.progress().batch());
    per_pass[test] = e.progress().batches();
  }
  ASSERT_GT(per_pass[0], 0);
  ASSERT_GT(per_pass[1], 0);
  std::vector<int64_t> expected[2];
  for (int test = 0; test < 2; ++test) {
    for (int64_t b = 20; b < per_pass[test]; b += 20) expected[test].push_back(b);
    expected[test].push_back(per_pass[test]);
  }
  for (const auto& [at, got] : batches) {
    EXPECT_EQ(got, expected[at.second])
        << "epoch " << at.first << (at.second ? " test" : "");
  }
}

TEST_F(ServerTest, TheJobDirectoryHasOneTrainerAndAStaleAttemptIsFencedOff) {
  const v1::Job job = Create(TinyConfig(50, 1000));
  ASSERT_EQ(WaitFor(job.name(), v1::RUNNING).state(), v1::RUNNING);
  const std::string id = job.name().substr(5);
  EXPECT_EQ(Get(job.name()).attempt(), 1);
  ASSERT_TRUE(WaitForFirstEpoch(job.name()));
  const std::vector<pid_t> trainers = ProcessesWith(JobDir(id));
  ASSERT_EQ(trainers.size(), 1u);
  const std::string train = EDBP_TRAIN_BIN;
  const std::string config = JobDir(id) + "config.yaml";
  // A second trainer in the job's directory refuses to start, naming the first.
  testing::CommandResult second = testing::RunCommand(
      absl::StrCat(train, " ", config, " --out-dir ", JobDir(id), " --epochs 1"));
  EXPECT_EQ(second.code, 1) << second.output;
  EXPECT_THAT(second.output,
              HasSubstr(absl::StrCat("is in use by edbp-train (pid ", trainers[0], ")")));
  // A process of another attempt is refused by the server: it keeps its reports in its
  // own spool and stops; none of them reaches the job's history.
  const fs::path stale_dir = dir_ / "stale";
  testing::CommandResult stale = testing::RunCommand(
      absl::StrCat(train, " ", config, " --out-dir ", stale_dir.string(),
                   " --report-to unix:", (dir_ / "worker.sock").string(), " --job-id ",
                   id, " --attempt 7 --epochs 1 --data-limit 100 --notensorboard"));
  EXPECT_THAT(stale.output, HasSubstr(absl::StrCat("refused attempt 7 of job ", id)));
  EXPECT_GT(fs::file_size(stale_dir / "events.spool"), 16u);
  grpc::ClientContext ctx;
  v1::CancelJobRequest cancel;
  cancel.set_name(job.name());
  v1::Job after;
  ASSERT_TRUE(server_->stub().CancelJob(&ctx, cancel, &after).ok());
  ASSERT_EQ(WaitFor(job.name(), v1::CANCELLED, 30s).state(), v1::CANCELLED);
  int started = 0;
  for (const v1::Event& e : Watch(job.name())) {
    started += e.has_log() && e.log().text().find("edbp-train started") == 0;
  }
  EXPECT_EQ(started, 1);
}

// The server paused (SIGSTOP) for longer than a report's deadline under a running job:
// the trainer spools what the server does not acknowledge and delivers it afterwards,
// so the history holds every record once, in order, and nothing is dropped.
TEST_F(ServerTest, AServerAwayUnderARunningJobLosesNoEvent) {
  const v1::Job job = Create(TinyConfig(2, 1000));
  const std::string id = job.name().substr(5);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        const v1::Job j = Get(job.name());
        return j.state() == v1::RUNNING && j.last_sequence() >= 4;  // progress flows
      },
      60s, 20ms));
  kill(server_->pid(), SIGSTOP);
  std::this_thread::sleep_for(8s);  // the trainer's report deadline is 5 s
  kill(server_->pid(), SIGCONT);
  ASSERT_EQ(WaitFor(job.name(), v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const std::vector<v1::Event> events = Watch(job.name());
  ExpectContiguous(events);
  EXPECT_EQ(EpochsOf(events), (std::vector<int64_t>{1, 2}));
  ExpectEveryProgressRecordOnce(events);
  ExpectRecordsOnceInOrder(events);
  const std::string log = testing::ReadFile(dir_ / "jobs" / id / "train.log");
  EXPECT_THAT(log, ::testing::Not(HasSubstr("dropped"))) << log;
  EXPECT_EQ(Get(job.name()).attempt(), 1);
}

// The server paused until the trainer has ended: the trainer's last reports stay in its
// spool, and the server stores them, in order, before it records the job's end.
TEST_F(ServerTest, WhatAnEndedTrainerCouldNotDeliverTheServerStores) {
  const v1::Job job = Create(TinyConfig(2, 600));
  const std::string id = job.name().substr(5);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        const v1::Job j = Get(job.name());
        return j.state() == v1::RUNNING && j.last_sequence() >= 4;
      },
      60s, 20ms));
  kill(server_->pid(), SIGSTOP);
  const bool ended =
      testing::WaitUntil([&] { return ProcessesWith(JobDir(id)).empty(); }, 120s, 100ms);
  kill(server_->pid(), SIGCONT);
  ASSERT_TRUE(ended);
  ASSERT_EQ(WaitFor(job.name(), v1::SUCCEEDED, 60s).state(), v1::SUCCEEDED);
  const std::string log = testing::ReadFile(dir_ / "jobs" / id / "train.log");
  EXPECT_THAT(log, HasSubstr("bytes of reports stay in")) << log;
  const std::vector<v1::Event> events = Watch(job.name());
  ExpectContiguous(events);
  EXPECT_EQ(EpochsOf(events), (std::vector<int64_t>{1, 2}));
  ExpectEveryProgressRecordOnce(events);
  ExpectRecordsOnceInOrder(events);
  // Stored before the end: the last event is the state change to SUCCEEDED.
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state_change().state(), v1::SUCCEEDED);
  EXPECT_EQ(fs::file_size(dir_ / "jobs" / id / "events.spool"), 16u);
}

// The training records of a history by number, without what differs between two runs
// of one config: wall times, speeds, and the job's directory in checkpoint paths.
std::map<int64_t, std::string> Records(const std::vector<v1::Event>& events) {
  std::map<int64_t, std::string> records;
  for (v1::Event e : events) {
    if (e.record() == 0) continue;
    e.clear_job();
    e.clear_sequence();
    e.clear_time();
    if (e.has_progress()) {
      e.mutable_progress()->clear_samples_per_second();
      e.mutable_progress()->clear_eta_seconds();
    }
    if (e.has_checkpoint_saved()) {
      v1::CheckpointSaved* c = e.mutable_checkpoint_saved();
      c->set_path(fs::path(c->path()).filename().string());
    }
    if (e.has_epoch_metrics()) {
      v1::EpochMetrics* m = e.mutable_epoch_metrics();
      m->clear_seconds();
      m->clear_train_samples_per_second();
      m->clear_test_samples_per_second();
    }
    records[e.record()] = e.SerializeAsString();
  }
  return records;
}

// Resume points after every batch, so a kill lands between two of them anywhere.
class ExactResumeTest : public ServerTest {
 protected:
  std::vector<std::string> ServerFlags() const override {
    return {"--checkpoint-every=1"};
  }

  // Job `b`, interrupted and resumed, ended with the checkpoints of job `a`, an
  // uninterrupted run of the same config, byte for byte, and its training records,
  // each once.
  void ExpectEndedAsUninterrupted(const v1::Job& a, const v1::Job& b) {
    const fs::path a_dir = dir_ / "jobs" / a.name().substr(5);
    const fs::path b_dir = dir_ / "jobs" / b.name().substr(5);
    for (const char* file :
         {"checkpoint_last.safetensors", "checkpoint_best.safetensors"}) {
      EXPECT_TRUE(testing::ReadFile(a_dir / file) == testing::ReadFile(b_dir / file))
          << file << " differs from the uninterrupted run's";
    }
    const std::vector<v1::Event> b_events = Watch(b.name());
    ExpectContiguous(b_events);
    ExpectRecordsOnceInOrder(b_events);
    const std::map<int64_t, std::string> a_records = Records(Watch(a.name()));
    const std::map<int64_t, std::string> b_records = Records(b_events);
    EXPECT_EQ(a_records.size(), b_records.size());
    EXPECT_TRUE(a_records == b_records) << "the training records differ";
  }
};

// Issue 17's exactness test: the machine "crashes" (edbp-train and edbp-server killed
// with -9 together) at a random moment of a job; the restarted server resumes it from
// its last batch-boundary checkpoint, and the job ends with the checkpoints of an
// uninterrupted run of the same config, byte for byte, and the same training records
// (the replayed ones stored once).
TEST_F(ExactResumeTest, AJobKilledAtARandomBatchEndsAsIfUninterrupted) {
  const std::string yaml = TinyConfig(2, 600);
  const v1::Job a = Create(yaml);
  const v1::Job done = WaitFor(a.name(), v1::SUCCEEDED, 120s);
  ASSERT_EQ(done.state(), v1::SUCCEEDED);
  const auto micros = [](const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000000 + t.nanos() / 1000;
  };
  const int64_t run_us = micros(done.end_time()) - micros(done.start_time());
  std::mt19937_64 rng(std::random_device{}());
  const int64_t delay_us = std::uniform_int_distribution<int64_t>(0, run_us / 2)(rng);
  SCOPED_TRACE(absl::StrCat("killed ", delay_us, " us into a run of ", run_us, " us"));

  const v1::Job b = Create(yaml);
  const std::string b_id = b.name().substr(5);
  const fs::path b_dir = dir_ / "jobs" / b_id;
  // From its first resume point (after batch 1), a random moment of its training.
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return fs::exists(b_dir / "checkpoint_last.safetensors"); }, 60s, 1ms));
  std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
  // Freeze the server first, so it sees no exit, then kill both.
  kill(server_->pid(), SIGSTOP);
  const std::vector<pid_t> trainers = ProcessesWith(JobDir(b_id));
  for (const pid_t pid : trainers) kill(pid, SIGKILL);
  server_->Kill(SIGKILL);
  ASSERT_EQ(trainers.size(), 1u) << "the job was not training when killed";
  server_->Start(ServerFlags());
  ASSERT_EQ(WaitFor(b.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
  EXPECT_EQ(Get(b.name()).attempt(), 2);
  // The second attempt resumed where the first was killed, not from the start.
  EXPECT_THAT(testing::ReadFile(b_dir / "train.log"), HasSubstr("resuming "));

  ExpectEndedAsUninterrupted(a, b);
}

// The same through a drain: edbp-server gets SIGTERM while the job's first test pass
// runs; the trainer stops between two test batches, keeping "trained, test pending",
// and the restarted server's next attempt tests and goes on, ending as the
// uninterrupted run did.
TEST_F(ExactResumeTest, AJobStoppedInItsTestPassEndsAsIfUninterrupted) {
  const std::string yaml = TinyConfig(2, 600);
  const v1::Job a = Create(yaml);
  ASSERT_EQ(WaitFor(a.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
  const v1::Job b = Create(yaml);
  const std::string b_id = b.name().substr(5);
  const fs::path b_dir = dir_ / "jobs" / b_id;
  {
    // The end of epoch 1's training pass (its last progress record) starts the test.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 120s);
    v1::WatchJobRequest req;
    req.set_name(b.name());
    auto reader = server_->stub().WatchJob(&ctx, req);
    for (v1::Event e; reader->Read(&e);) {
      if (e.has_progress() && e.progress().phase() == v1::Progress::TRAIN &&
          e.progress().epoch() == 1 && e.progress().batch() == e.progress().batches()) {
        kill(server_->pid(), SIGTERM);
        break;
      }
    }
    ctx.TryCancel();
  }
  ASSERT_TRUE(
      testing::WaitUntil([&] { return ProcessesWith(JobDir(b_id)).empty(); }, 60s, 20ms));
  server_->Kill(SIGKILL);  // reaps the drained server
  server_->Start(ServerFlags());
  ASSERT_EQ(WaitFor(b.name(), v1::SUCCEEDED, 120s).state(), v1::SUCCEEDED);
  EXPECT_THAT(testing::ReadFile(b_dir / "train.log"),
              HasSubstr("in epoch 1, its test pending"));
  ExpectEndedAsUninterrupted(a, b);
}

// The value of a metric without labels on /metrics ("" when absent).
std::string Metric(const std::string& address, const std::string& name) {
  const std::string text = testing::HttpGet(address, "/metrics");
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  const size_t from = at + name.size() + 2;
  return text.substr(from, text.find('\n', from) - from);
}

// Defect 3 of issue 17: the disk fills under a running job. The trainer fails, and the
// store cannot write the job's end: watchers get an error at once instead of waiting,
// health is NOT_SERVING and /metrics says the store is unhealthy; once space is freed
// the job becomes FAILED with its reason and the server is healthy again.
TEST_F(ServerTest, AFullDiskEndsTheJobOnceTheStoreWritesAgain) {
  const fs::path disk = dir_ / "disk";
  fs::create_directories(disk);
  if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=24m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno)
                 << "): this test needs root";
  }
  struct Unmount {
    fs::path path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{disk};
  server_->Kill(SIGKILL);
  server_ = std::make_unique<testing::ServerProcess>(disk / "data");
  server_->Start({"--metrics-listen=127.0.0.1:0"});
  const std::string client = EDBP_CLIENT_BIN;
  const std::string health = client + " --server " + server_->address() + " health";
  EXPECT_EQ(testing::RunCommand(health).code, 0);
  EXPECT_EQ(Metric(server_->metrics_address(), "edbp_store_healthy"), "1");

  const v1::Job job = Create(TinyConfig(50, 1000));
  ASSERT_TRUE(WaitForFirstEpoch(job.name()));
  // A watcher from the start, reading until its stream ends.
  grpc::Status watch_end;
  std::atomic<bool> watch_ended{false};
  std::thread watcher([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 120s);
    v1::WatchJobRequest req;
    req.set_name(job.name());
    auto reader = server_->stub().WatchJob(&ctx, req);
    for (v1::Event e; reader->Read(&e);) {
    }
    watch_end = reader->Finish();
    watch_ended.store(true);
  });
  // Fill the disk, and keep it full (as another process that keeps writing would):
  // what a failed write frees, e.g. the trainer's temporary checkpoint, is taken again.
  const fs::path filler = disk / "filler";
  std::atomic<bool> keep_full{true};
  std::thread fill([&] {
    const int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const std::string chunk(64 << 10, 'x');
    while (keep_full.load()) {
      if (write(fd, chunk.data(), chunk.size()) <= 0) {
        std::this_thread::sleep_for(2ms);
      }
    }
    close(fd);
  });
  const bool ended = testing::WaitUntil([&] { return watch_ended.load(); }, 60s, 50ms);
  EXPECT_TRUE(ended) << "the watcher still waits";
  EXPECT_EQ(watch_end.error_code(), grpc::StatusCode::UNAVAILABLE)
      << watch_end.error_message();
  EXPECT_THAT(watch_end.error_message(), HasSubstr("cannot store it"));
  EXPECT_EQ(Get(job.name()).state(), v1::RUNNING);  // what the store still says
  {
    grpc::ClientContext ctx;  // a watcher that comes now is told at once too
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::WatchJobRequest req;
    req.set_name(job.name());
    auto reader = server_->stub().WatchJob(&ctx, req);
    for (v1::Event e; reader->Read(&e);) {
    }
    const grpc::Status late = reader->Finish();
    EXPECT_EQ(late.error_code(), grpc::StatusCode::UNAVAILABLE) << late.error_message();
    EXPECT_THAT(late.error_message(), HasSubstr("cannot store it"));
  }
  EXPECT_TRUE(ProcessesWith(disk.string()).empty());
  EXPECT_NE(testing::RunCommand(health).code, 0);
  EXPECT_EQ(Metric(server_->metrics_address(), "edbp_store_healthy"), "0");
  EXPECT_NE(Metric(server_->metrics_address(), "edbp_store_write_failures_total"), "0");

  keep_full.store(false);
  fill.join();
  fs::remove(filler);
  const v1::Job failed = WaitFor(job.name(), v1::FAILED, 30s);
  EXPECT_EQ(failed.state(), v1::FAILED);
  EXPECT_THAT(failed.error(), HasSubstr("edbp-train exit status 1"));
  EXPECT_EQ(testing::RunCommand(health).code, 0);
  EXPECT_EQ(Metric(server_->metrics_address(), "edbp_store_healthy"), "1");
  watcher.join();
  // A watcher now gets the whole history, to its end.
  const std::vector<v1::Event> events = Watch(job.name());
  ExpectContiguous(events);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state_change().state(), v1::FAILED);
  server_->Kill(SIGKILL);  // before the tmpfs goes
}

}  // namespace
}  // namespace edbp

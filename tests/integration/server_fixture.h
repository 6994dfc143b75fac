// The fixture of the tests that run edbp-server end to end (server_test,
// server_reliability_test): the server as a child process on 127.0.0.1 with a random
// port and a temporary data dir, real edbp-train job processes on a Fashion-MNIST
// subset, and the calls the tests make.
#ifndef EDBP_TESTS_INTEGRATION_SERVER_FIXTURE_H_
#define EDBP_TESTS_INTEGRATION_SERVER_FIXTURE_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "edbp/v1/training_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/wait_until.h"

namespace edbp::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)

// A small job: the small.yaml network on the first `limit` samples.
inline std::string TinyConfig(int epochs, int limit) {
  std::ifstream in("configs/small.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  yaml.replace(yaml.find("epochs: 100"), 11, "epochs: " + std::to_string(epochs));
  yaml.replace(yaml.find("n_steps: 5"), 10,
               "n_steps: 5\n  data_limit: " + std::to_string(limit));
  return yaml;
}

class ServerProcess {
 public:
  explicit ServerProcess(fs::path data_dir) : data_dir_(std::move(data_dir)) {}
  ~ServerProcess() { Kill(SIGKILL); }

  // Starts edbp-server on a free port, with `flags` besides the fixed ones, and waits
  // until it listens.
  void Start(const std::vector<std::string>& flags = {}) {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      const std::string dir = "--data-dir=" + data_dir_.string();
      const std::string log = (data_dir_ / "server.log").string();
      const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(err, 2);
      std::vector<std::string> args = {EDBP_SERVER_BIN, "--listen=127.0.0.1:0", dir,
                                       "--grace-seconds=20"};
      args.insert(args.end(), flags.begin(), flags.end());
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(EDBP_SERVER_BIN, argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256] = {};
    ASSERT_NE(fgets(line, sizeof(line), f), nullptr) << "edbp-server did not start";
    const std::string text(line);
    // "metrics on HOST:PORT" follows when /metrics is served.
    for (const std::string& flag : flags) {
      if (flag.rfind("--metrics-listen", 0) != 0) continue;
      char metrics[256] = {};
      ASSERT_NE(fgets(metrics, sizeof(metrics), f), nullptr);
      const std::string m(metrics);
      ASSERT_EQ(m.rfind("metrics on ", 0), 0u) << m;
      metrics_address_ = m.substr(11, m.find('\n') - 11);
    }
    fclose(f);
    ASSERT_EQ(text.rfind("listening on ", 0), 0u) << text;
    address_ = text.substr(13, text.find('\n') - 13);
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    stub_ = v1::TrainingService::NewStub(channel_);
  }

  void Kill(int sig) {
    if (pid_ > 0) {
      kill(pid_, sig);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  v1::TrainingService::Stub& stub() { return *stub_; }
  const std::string& address() const { return address_; }
  const std::string& metrics_address() const { return metrics_address_; }
  pid_t pid() const { return pid_; }

 private:
  fs::path data_dir_;
  pid_t pid_ = -1;
  std::string address_;
  std::string metrics_address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TrainingService::Stub> stub_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed (scripts/install-deps.sh)";
    }
    // The process id keeps two runs of this test on one machine apart.
    dir_ = fs::temp_directory_path() /
           ("edbp_server_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
            "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    server_ = std::make_unique<ServerProcess>(dir_);
    server_->Start(ServerFlags());
  }
  // Flags of the server each test starts, besides --listen, --data-dir, --grace-seconds.
  virtual std::vector<std::string> ServerFlags() const { return {}; }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  v1::Job Create(const std::string& yaml, int priority = 0,
                 const std::string& request_id = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::CreateJobRequest req;
    req.set_config_yaml(yaml);
    req.set_priority(priority);
    req.set_request_id(request_id);
    v1::Job job;
    const grpc::Status s = server_->stub().CreateJob(&ctx, req, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }

  // CreateJob as it answers, for the requests a test expects to be refused.
  grpc::Status TryCreate(const std::string& yaml, const std::string& name = "",
                         const std::string& request_id = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    v1::CreateJobRequest req;
    req.set_config_yaml(yaml);
    req.set_display_name(name);
    req.set_request_id(request_id);
    v1::Job job;
    return server_->stub().CreateJob(&ctx, req, &job);
  }

  v1::Job Get(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetJobRequest req;
    req.set_name(name);
    v1::Job job;
    EXPECT_TRUE(server_->stub().GetJob(&ctx, req, &job).ok());
    return job;
  }

  // Reads the whole stream from `from` until the server closes it.
  std::vector<v1::Event> Watch(const std::string& name, int64_t from = 1,
                               std::chrono::seconds limit = 240s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + limit);
    v1::WatchJobRequest req;
    req.set_name(name);
    req.set_from_sequence(from);
    auto reader = server_->stub().WatchJob(&ctx, req);
    std::vector<v1::Event> events;
    v1::Event e;
    while (reader->Read(&e)) events.push_back(e);
    const grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return events;
  }

  // Waits until the job reaches `state` (or `limit` passes); returns the job as last
  // read.
  v1::Job WaitFor(const std::string& name, v1::JobState state,
                  std::chrono::seconds limit = 60s) {
    v1::Job job;
    testing::WaitUntil([&] { return (job = Get(name)).state() == state; }, limit, 100ms);
    return job;
  }

  // Waits until the job has checkpointed its first epoch (or `limit` passes).
  bool WaitForFirstEpoch(const std::string& name, std::chrono::seconds limit = 120s) {
    return testing::WaitUntil([&] { return Get(name).last_epoch() >= 1; }, limit, 20ms);
  }

  // "<data dir>/jobs/<id>/": every edbp-train of that job has it in its command line (the
  // config path, --out-dir), and no other process does.
  std::string JobDir(const std::string& id) const {
    return (dir_ / "jobs" / id).string() + "/";
  }

  // The training records among `events` (Event.record > 0) are 1, 2, 3, ...: each
  // stored once, in order, none lost (also across restarts and resumes).
  static void ExpectRecordsOnceInOrder(const std::vector<v1::Event>& events) {
    int64_t last = 0;
    for (const v1::Event& e : events) {
      if (e.record() == 0) continue;
      ASSERT_EQ(e.record(), last + 1) << "event " << e.sequence();
      last = e.record();
    }
    EXPECT_GT(last, 0);
  }

  static void ExpectContiguous(const std::vector<v1::Event>& events) {
    for (size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].sequence(), static_cast<int64_t>(i) + 1) << "event " << i;
    }
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

// edbp-train processes whose command line mentions `needle`. Callers pass a path under
// their own data directory, so a job of another server on the machine never matches.
inline std::vector<pid_t> ProcessesWith(const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;  // a process that exits during the listing is no error
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // read(2), not a stream: a process that exits while it is read makes the read fail
    // with ESRCH, which libstdc++'s filebuf turns into an exception.
    std::string cmd;
    const int fd = open((entry.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) cmd.append(buf, n);
    close(fd);
    if (cmd.find(needle) != std::string::npos &&
        cmd.find("edbp-train") != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

}  // namespace edbp::testing

#endif  // EDBP_TESTS_INTEGRATION_SERVER_FIXTURE_H_

#include "server/launcher.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/wait_until.h"

namespace edbp::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

// Collects the on_exit calls of one child.
class ExitWaiter {
 public:
  std::function<void(const ExitInfo&)> Callback() {
    return [this](const ExitInfo& info) {
      std::lock_guard<std::mutex> lock(mu_);
      info_ = info;
      ++calls_;
      cv_.notify_all();
    };
  }
  std::optional<ExitInfo> Wait(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return info_.has_value(); });
    return info_;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ExitInfo> info_;
  int calls_ = 0;
};

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("launcher_test_" + std::to_string(getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  LaunchSpec Script(const std::string& job_id, const std::string& script) {
    LaunchSpec spec;
    spec.job_id = job_id;
    spec.workdir = (dir_ / job_id).string();
    spec.program = "/bin/sh";
    spec.args = {"-c", script};
    return spec;
  }
  std::string ReadFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // Polls for a file the script writes once its traps are set.
  static bool WaitForFile(const std::filesystem::path& path) {
    return edbp::testing::WaitUntil([&] { return std::filesystem::exists(path); },
                                    seconds(10), milliseconds(5));
  }

  std::filesystem::path dir_;
};

TEST_F(LauncherTest, ReportsExitCodes) {
  Launcher launcher;
  ExitWaiter ok, three;
  ASSERT_TRUE(launcher.Launch(Script("ok", "exit 0"), ok.Callback()).ok());
  ASSERT_TRUE(launcher.Launch(Script("three", "exit 3"), three.Callback()).ok());
  std::optional<ExitInfo> a = ok.Wait(seconds(10));
  std::optional<ExitInfo> b = three.Wait(seconds(10));
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(a->exited);
  EXPECT_EQ(a->code, 0);
  EXPECT_TRUE(b->exited);
  EXPECT_EQ(b->code, 3);
  EXPECT_EQ(b->Describe(), "exit status 3");
  // An absence (no second exit report) has no event to wait for: give a wrong second
  // call time to arrive, then count.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(ok.calls(), 1);
}

TEST_F(LauncherTest, ReportsKillingSignal) {
  Launcher launcher;
  ExitWaiter waiter;
  ASSERT_TRUE(launcher.Launch(Script("j", "kill -9 $$"), waiter.Callback()).ok());
  std::optional<ExitInfo> info = waiter.Wait(seconds(10));
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->exited);
  EXPECT_EQ(info->signal, SIGKILL);
  EXPECT_EQ(info->Describe(), "killed by signal 9 (Killed)");
}

TEST_F(LauncherTest, AppendsOutputToTrainLogInWorkdir) {
  Launcher launcher;
  for (int run = 0; run < 2; ++run) {
    ExitWaiter waiter;
    LaunchSpec spec = Script("j", "echo out; echo err >&2; pwd");
    spec.workdir = (dir_ / "nested" / "j").string();  // created with its parents
    ASSERT_TRUE(launcher.Launch(spec, waiter.Callback()).ok());
    ASSERT_TRUE(waiter.Wait(seconds(10)).has_value());
  }
  const std::string dir = std::filesystem::canonical(dir_ / "nested" / "j").string();
  const std::string once = "out\nerr\n" + dir + "\n";
  EXPECT_EQ(ReadFile(dir_ / "nested" / "j" / "train.log"), once + once);
}

TEST_F(LauncherTest, PassesEnvironment) {
  setenv("EDBP_LAUNCHER_TEST_INHERITED", "from-server", 1);
  Launcher launcher;
  ExitWaiter waiter;
  LaunchSpec spec =
      Script("j", "echo \"FOO=$FOO\"; echo \"$EDBP_LAUNCHER_TEST_INHERITED\"");
  spec.env = {{"FOO", "bar baz"}};
  ASSERT_TRUE(launcher.Launch(spec, waiter.Callback()).ok());
  ASSERT_TRUE(waiter.Wait(seconds(10)).has_value());
  EXPECT_EQ(ReadFile(dir_ / "j" / "train.log"), "FOO=bar baz\nfrom-server\n");
}

TEST_F(LauncherTest, MissingProgramFailsBeforeReturning) {
  Launcher launcher;
  ExitWaiter waiter;
  LaunchSpec spec = Script("j", "exit 0");
  spec.program = (dir_ / "no-such-edbp-train").string();
  absl::StatusOr<pid_t> pid = launcher.Launch(spec, waiter.Callback());
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(pid.status().message(), HasSubstr(spec.program));
  EXPECT_THAT(pid.status().message(), HasSubstr("No such file"));
  EXPECT_EQ(launcher.PidOf("j"), -1);
  EXPECT_FALSE(waiter.Wait(milliseconds(200)).has_value());

  spec.program = "no-such-program-in-path-edbp";
  pid = launcher.Launch(spec, waiter.Callback());
  ASSERT_FALSE(pid.ok());
  EXPECT_THAT(pid.status().message(), HasSubstr("no-such-program-in-path-edbp"));
  EXPECT_EQ(waiter.calls(), 0);
}

TEST_F(LauncherTest, TerminateLetsTheChildExitOnTerm) {
  Launcher launcher;
  ExitWaiter waiter;
  LaunchSpec spec = Script("j", "trap 'exit 3' TERM; : > ready; sleep 30 & wait");
  ASSERT_TRUE(launcher.Launch(spec, waiter.Callback()).ok());
  ASSERT_TRUE(WaitForFile(dir_ / "j" / "ready"));
  const auto start = Clock::now();
  ASSERT_TRUE(launcher.Terminate("j", seconds(20)).ok());
  std::optional<ExitInfo> info = waiter.Wait(seconds(10));
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->exited);
  EXPECT_EQ(info->code, 3);
  EXPECT_LT(Clock::now() - start, seconds(3));
}

// The child gets an empty signal mask even when the launching thread blocks SIGTERM.
// `sleep` (found in PATH) is exec'd directly: a shell might reset the mask itself.
TEST_F(LauncherTest, ChildDoesNotInheritBlockedSignals) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  Launcher launcher;
  ExitWaiter waiter;
  LaunchSpec spec = Script("j", "");
  spec.program = "sleep";
  spec.args = {"30"};
  absl::StatusOr<pid_t> pid = launcher.Launch(spec, waiter.Callback());
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(launcher.Terminate("j", seconds(20)).ok());
  std::optional<ExitInfo> info = waiter.Wait(seconds(10));
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->exited);
  EXPECT_EQ(info->signal, SIGTERM);
}

TEST_F(LauncherTest, TerminateKillsTheGroupAfterGrace) {
  // Orphans are reparented to this process, so the grandchild can be reaped here.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  Launcher launcher;
  ExitWaiter waiter;
  LaunchSpec spec =
      Script("j", "trap '' TERM; sleep 30 & echo $! > grandchild; : > ready; sleep 30");
  absl::StatusOr<pid_t> pid = launcher.Launch(spec, waiter.Callback());
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(WaitForFile(dir_ / "j" / "ready"));
  const pid_t grandchild = std::stoi(ReadFile(dir_ / "j" / "grandchild"));
  EXPECT_EQ(getpgid(grandchild), *pid);

  const auto start = Clock::now();
  ASSERT_TRUE(launcher.Terminate("j", milliseconds(300)).ok());
  std::optional<ExitInfo> info = waiter.Wait(seconds(10));
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->exited);
  EXPECT_EQ(info->signal, SIGKILL);
  EXPECT_GE(elapsed, milliseconds(300));
  EXPECT_LT(elapsed, seconds(5));

  // The grandchild was killed with the group: reap it (we are its subreaper now).
  int status = 0;
  pid_t reaped = 0;
  edbp::testing::WaitUntil(
      [&] { return (reaped = waitpid(grandchild, &status, WNOHANG)) != 0; }, seconds(5));
  if (reaped == grandchild) {
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
  }
  EXPECT_EQ(kill(grandchild, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(LauncherTest, TerminateUnknownOrEndedJobIsNotFound) {
  Launcher launcher;
  EXPECT_EQ(launcher.Terminate("nope", seconds(1)).code(), absl::StatusCode::kNotFound);
  ExitWaiter waiter;
  ASSERT_TRUE(launcher.Launch(Script("j", "exit 0"), waiter.Callback()).ok());
  ASSERT_TRUE(waiter.Wait(seconds(10)).has_value());
  EXPECT_EQ(launcher.Terminate("j", seconds(1)).code(), absl::StatusCode::kNotFound);
}

TEST_F(LauncherTest, PidOfRunningAndEndedJob) {
  Launcher launcher;
  ExitWaiter waiter;
  absl::StatusOr<pid_t> pid = launcher.Launch(Script("j", "exit 0"), waiter.Callback());
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(waiter.Wait(seconds(10)).has_value());
  EXPECT_EQ(launcher.PidOf("j"), -1);

  ExitWaiter running;
  pid = launcher.Launch(Script("k", "sleep 30"), running.Callback());
  ASSERT_TRUE(pid.ok());
  EXPECT_GT(*pid, 0);
  EXPECT_EQ(launcher.PidOf("k"), *pid);
  EXPECT_EQ(getpgid(*pid), *pid);  // its own process group
  EXPECT_EQ(launcher.PidOf("other"), -1);
  // A second child for a job that has one is refused.
  EXPECT_EQ(launcher.Launch(Script("k", "exit 0"), nullptr).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(launcher.Terminate("k", milliseconds(0)).ok());
  ASSERT_TRUE(running.Wait(seconds(10)).has_value());
  EXPECT_EQ(launcher.PidOf("k"), -1);
}

TEST_F(LauncherTest, OnExitMayLaunchAgain) {
  Launcher launcher;
  ExitWaiter second;
  // Each child's exit is reported from its own thread, so b's report can arrive before
  // a's callback has stored what its Launch returned: wait for both.
  std::promise<absl::Status> relaunched;
  std::future<absl::Status> relaunch_status = relaunched.get_future();
  ASSERT_TRUE(launcher
                  .Launch(Script("a", "exit 1"),
                          [&](const ExitInfo&) {
                            auto pid =
                                launcher.Launch(Script("b", "exit 2"), second.Callback());
                            relaunched.set_value(pid.status());
                          })
                  .ok());
  std::optional<ExitInfo> info = second.Wait(seconds(10));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->code, 2);
  ASSERT_EQ(relaunch_status.wait_for(seconds(10)), std::future_status::ready);
  const absl::Status status = relaunch_status.get();
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(LauncherTest, DestructorKillsRunningChildren) {
  ExitWaiter waiter;  // outlives the launcher
  pid_t pid = -1;
  const auto start = Clock::now();
  {
    Launcher launcher;
    LaunchSpec spec = Script("j", "trap '' TERM; : > ready; sleep 30");
    absl::StatusOr<pid_t> launched = launcher.Launch(spec, waiter.Callback());
    ASSERT_TRUE(launched.ok());
    pid = *launched;
    ASSERT_TRUE(WaitForFile(dir_ / "j" / "ready"));
    ASSERT_TRUE(launcher.Terminate("j", seconds(60)).ok());  // its timer must not block
  }
  EXPECT_LT(Clock::now() - start, seconds(5));
  std::optional<ExitInfo> info = waiter.Wait(milliseconds(0));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->signal, SIGKILL);
  EXPECT_EQ(kill(pid, 0), -1);
}

}  // namespace
}  // namespace edbp::server

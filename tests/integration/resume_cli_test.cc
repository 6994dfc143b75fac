// Issue 17, crash-exact resume of edbp-train as a process: killed with SIGKILL at a
// random batch under --checkpoint-every 1, or stopped with SIGTERM during the test pass,
// then resumed with --resume, a run ends with the checkpoint files of an uninterrupted
// run byte for byte, and its JSON lines (repeats dropped by record number) are the
// uninterrupted run's, wall times and paths aside.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;

constexpr char kData[] = "/usr/share/datasets/fashion-mnist";
// 300 samples, batch 50: 6 batches per epoch, a progress line after each.
constexpr int64_t kBatches = 6;
constexpr char kFlags[] = " --data-limit 300 --notensorboard --progress-every 1";

testing::CommandResult RunTrain(const std::string& args) {
  return testing::RunCommand(std::string(EDBP_TRAIN_BIN) + " " + args);
}

// edbp-train in the background, its output into `log`.
pid_t Spawn(const std::string& args, const std::string& log) {
  const std::string command =
      "exec " + std::string(EDBP_TRAIN_BIN) + " " + args + " >" + log + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

struct Line {
  nlohmann::json json;
  std::string text;  // wall times and paths blanked
};

// The JSON lines of `path` (a truncated last line is skipped).
std::vector<Line> ReadLines(const std::string& path) {
  static const std::regex kVarying(
      R"re("(seconds|eta_seconds|\w+_per_second|path)":("[^"]*"|[-+.0-9eE]+))re");
  std::vector<Line> out;
  std::ifstream in(path);
  std::string text;
  while (std::getline(in, text)) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;
    out.push_back({std::move(j), std::regex_replace(text, kVarying, "\"$1\":-")});
  }
  return out;
}

// Whether a progress line of (epoch, batch) or later is in `path`.
bool Reached(const std::string& path, int64_t epoch, int64_t batch) {
  for (const Line& l : ReadLines(path)) {
    if (l.json.value("type", "") != "progress") continue;
    const int64_t e = l.json.value("epoch", 0), b = l.json.value("batch", 0);
    if (e > epoch || (e == epoch && b >= batch)) return true;
  }
  return false;
}

// Waits until `path` has reached (epoch, batch), then sends `sig` to `pid`; returns
// the wait status, or -1 when the process ended first.
int SignalAt(pid_t pid, const std::string& path, int64_t epoch, int64_t batch, int sig) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  while (!Reached(path, epoch, batch)) {
    if (waitpid(pid, &status, WNOHANG) == pid ||
        std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, sig);
  waitpid(pid, &status, 0);
  return status;
}

class ResumeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::path(kData) / "train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed in " << kData;
    }
    dir_ = fs::temp_directory_path() /
           ("edbp_resume_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The uninterrupted run.
    const testing::CommandResult r =
        RunTrain("configs/small.yaml --epochs 2 --seed 3" + std::string(kFlags) +
                 " --out-dir " + Path("a") + " --metrics-jsonl " + Path("a.jsonl"));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Run `run` ended with the uninterrupted run's files and records: the first line of
  // each record number kept, a repeat identical to it.
  void ExpectSameAsUninterrupted(const std::string& run) {
    for (const char* file :
         {"checkpoint_last.safetensors", "checkpoint_best.safetensors"}) {
      EXPECT_TRUE(testing::ReadFile(Path("a/") + file) ==
                  testing::ReadFile(Path(run + "/") + file))
          << file;
    }
    const std::vector<Line> want = ReadLines(Path("a.jsonl"));
    ASSERT_GE(want.size(), 2 * (kBatches + 2) + 1);  // + "best" of epoch 1 at least
    std::map<int64_t, std::string> got;
    int repeats = 0;
    for (const Line& l : ReadLines(Path(run + ".jsonl"))) {
      const int64_t record = l.json.value("record", int64_t{0});
      auto [it, added] = got.emplace(record, l.text);
      if (!added) {
        ++repeats;
        // A progress record sent again after a kill carries what it carried before.
        EXPECT_EQ(it->second, l.text) << "record " << record;
      }
    }
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const int64_t record = static_cast<int64_t>(i) + 1;
      EXPECT_EQ(want[i].json.value("record", int64_t{0}), record);
      EXPECT_EQ(got[record], want[i].text) << "record " << record;
    }
    RecordProperty("repeated_records", repeats);
  }

  fs::path dir_;
};

TEST_F(ResumeCli, KilledAtARandomBatchAndResumedEndsByteIdentical) {
  // Any batch after the first (whose checkpoint a kill may interrupt: nothing to resume
  // then) but the run's last, chosen anew on each run of the test.
  std::random_device seed;
  const int64_t at = std::uniform_int_distribution<int64_t>(2, 2 * kBatches - 1)(seed);
  const int64_t epoch = 1 + (at - 1) / kBatches, batch = 1 + (at - 1) % kBatches;
  SCOPED_TRACE(::testing::Message()
               << "SIGKILL after epoch " << epoch << " batch " << batch);
  const std::string flags = std::string(kFlags) + " --checkpoint-every 1 --out-dir " +
                            Path("b") + " --metrics-jsonl " + Path("b.jsonl");
  const pid_t pid =
      Spawn("configs/small.yaml --epochs 2 --seed 3" + flags, Path("b.log"));
  ASSERT_GT(pid, 0);
  const int status = SignalAt(pid, Path("b.jsonl"), epoch, batch, SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "status " << status << ": " << testing::ReadFile(Path("b.log"));
  const testing::CommandResult r = RunTrain("--resume " + Path("b") + flags);
  ASSERT_EQ(r.code, 0) << r.output;
  ExpectSameAsUninterrupted("b");
}

TEST_F(ResumeCli, StoppedDuringTheTestPassAndResumedEndsByteIdentical) {
  const std::string flags = std::string(kFlags) + " --out-dir " + Path("c") +
                            " --metrics-jsonl " + Path("c.jsonl");
  const pid_t pid =
      Spawn("configs/small.yaml --epochs 2 --seed 3" + flags, Path("c.log"));
  ASSERT_GT(pid, 0);
  // The last training batch's progress line: the test pass is running.
  const int status = SignalAt(pid, Path("c.jsonl"), 1, kBatches, SIGTERM);
  const std::string log = testing::ReadFile(Path("c.log"));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status << ": " << log;
  EXPECT_NE(log.find("checkpoint at epoch 1 batch 6 saved for a resume"),
            std::string::npos)
      << log;
  const testing::CommandResult r = RunTrain("--resume " + Path("c") + flags);
  ASSERT_EQ(r.code, 0) << r.output;
  ExpectSameAsUninterrupted("c");
}

}  // namespace
}  // namespace edbp

// Issue 19 item 7, the live view end to end through the real edbp-server, edbp-train
// and edbp-client: progress records every N batches per job (submit --progress-every,
// Network.progress_every) in the training and the test pass, the summary that watch
// and submit --follow end with, and a resumed job saying so in its stream.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "edbp/v1/training_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/client_fixture.h"
#include "tests/integration/server_fixture.h"
#include "tests/process_util.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using testing::ClientServerTest;
using testing::CommandResult;
using testing::ReadFile;
using testing::RunCommand;
using testing::TinyConfig;

// (phase, epoch, batch, batches) of a progress event.
using Step = std::tuple<std::string, int64_t, int64_t, int64_t>;

class LiveViewTest : public ClientServerTest {
 protected:
  // The job's progress events, in order.
  std::vector<Step> Steps(const std::string& job) {
    std::vector<Step> steps;
    for (const v1::Event& e : Watch(job)) {
      if (!e.has_progress()) continue;
      const v1::Progress& p = e.progress();
      steps.emplace_back(v1::Progress::Phase_Name(p.phase()), p.epoch(), p.batch(),
                         p.batches());
    }
    return steps;
  }
  // What an uninterrupted run of `epochs` epochs with `batches` training and test
  // batches each reports with progress every `every` batches.
  static std::vector<Step> Expected(int64_t epochs, int64_t batches, int64_t every) {
    std::vector<Step> steps;
    if (every == 0) return steps;
    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
      for (const char* phase : {"TRAIN", "TEST"}) {
        for (int64_t b = 1; b <= batches; ++b) {
          if (b % every == 0 || b == batches)
            steps.emplace_back(phase, epoch, b, batches);
        }
      }
    }
    return steps;
  }
};

TEST_F(LiveViewTest, ProgressEveryPerJobSetsTheRecordsOfBothPasses) {
  // 300 training and 300 test samples in batches of 50: 6 batches per pass.
  const std::string config = WriteConfig("tiny", TinyConfig(2, 300));
  const std::string every4 = Submit(config, "--progress-every 4");
  const std::string none =
      Submit(WriteConfig("one", TinyConfig(1, 300)), "--progress-every 0");
  std::string yaml = TinyConfig(1, 300);
  yaml.replace(yaml.find("n_steps: 5"), 10, "n_steps: 5\n  progress_every: 5");
  const std::string keyed = Submit(WriteConfig("keyed", yaml));
  const std::string flag_beats_key =
      Submit(WriteConfig("keyed2", yaml), "--progress-every 3");
  const std::string by_default = Submit(WriteConfig("plain", TinyConfig(1, 300)));
  for (const std::string& job : {every4, none, keyed, flag_beats_key, by_default}) {
    ASSERT_EQ(WaitFor(job, v1::SUCCEEDED, 300s).state(), v1::SUCCEEDED) << job;
  }
  EXPECT_EQ(Get(every4).progress_every(), 4);
  EXPECT_EQ(Get(none).progress_every(), 0);
  EXPECT_EQ(Get(keyed).progress_every(), 5);
  EXPECT_EQ(Get(flag_beats_key).progress_every(), 3);
  EXPECT_EQ(Get(by_default).progress_every(), 20);
  // Batches 4 and 6 of each pass, 5 and 6, 3 and 6, the last only (20 > 6), none.
  EXPECT_EQ(Steps(every4), Expected(2, 6, 4));
  EXPECT_EQ(Steps(every4).size(), 8u);
  EXPECT_EQ(Steps(keyed), Expected(1, 6, 5));
  EXPECT_EQ(Steps(flag_beats_key), Expected(1, 6, 3));
  EXPECT_EQ(Steps(by_default), Expected(1, 6, 20));
  EXPECT_EQ(Steps(none), std::vector<Step>{});
  // `get` shows it.
  const CommandResult get = Client("get " + every4);
  ASSERT_EQ(get.code, 0) << get.output;
  bool shown = false;
  for (absl::string_view l : absl::StrSplit(get.output, '\n')) {
    shown = shown ||
            (absl::StartsWith(l, "progress:") && absl::EndsWith(l, " every 4 batches"));
  }
  EXPECT_TRUE(shown) << get.output;
}

TEST_F(LiveViewTest, TheTestPassRecordsEndWithTheEpochsTestNumbers) {
  const std::string job =
      Submit(WriteConfig("tiny", TinyConfig(1, 300)), "--progress-every 2");
  ASSERT_EQ(WaitFor(job, v1::SUCCEEDED, 180s).state(), v1::SUCCEEDED);
  const std::vector<v1::Event> events = Watch(job);
  ExpectRecordsOnceInOrder(events);
  std::vector<v1::Progress> test;
  v1::EpochMetrics epoch;
  int train = 0;
  for (const v1::Event& e : events) {
    if (e.has_progress() && e.progress().phase() == v1::Progress::TEST) {
      EXPECT_EQ(e.progress().epochs(), 1);
      test.push_back(e.progress());
    }
    if (e.has_progress() && e.progress().phase() == v1::Progress::TRAIN) ++train;
    if (e.has_epoch_metrics()) {
      epoch = e.epoch_metrics();
      // Every record of the test pass comes before the epoch's.
      EXPECT_EQ(test.size(), 3u);
    }
  }
  EXPECT_EQ(train, 3);
  ASSERT_EQ(test.size(), 3u);
  for (size_t i = 0; i < test.size(); ++i) {
    EXPECT_EQ(test[i].batch(), 2 * static_cast<int64_t>(i) + 2);
    EXPECT_EQ(test[i].batches(), 6);
    EXPECT_GE(test[i].running_accuracy(), 0);
    EXPECT_LE(test[i].running_accuracy(), 1);
  }
  EXPECT_EQ(test.back().eta_seconds(), 0);
  // One process: the pass's last running values are the epoch's test loss and accuracy
  // (the same sums over the same samples).
  EXPECT_EQ(test.back().running_loss(), epoch.test_loss());
  EXPECT_EQ(test.back().running_accuracy(), epoch.test_accuracy());
}

TEST_F(LiveViewTest, HostileProgressEveryIsAnInvalidArgumentNamingTheField) {
  const std::string config = WriteConfig("tiny", TinyConfig(1, 100));
  CommandResult r = Client("submit " + config + " --progress-every 1000001");
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output,
                                "progress_every: expected 0 (no progress "
                                "records) to 1000000"))
      << r.output;
  r = Client("submit " + config + " --progress-every 9223372036854775807");
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "progress_every")) << r.output;
  EXPECT_EQ(Client("submit " + config + " --progress-every -5").code, 2);
  // A negative value reaches the server only from another client.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  v1::CreateJobRequest req;
  req.set_config_yaml(TinyConfig(1, 100));
  req.set_progress_every(-1);
  v1::Job job;
  const grpc::Status s = server_->stub().CreateJob(&ctx, req, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "progress_every: expected 0"))
      << s.error_message();
  // The config key: the field path.
  std::string yaml = TinyConfig(1, 100);
  yaml.replace(yaml.find("n_steps: 5"), 10, "n_steps: 5\n  progress_every: 2000000");
  r = Client("submit " + WriteConfig("bad", yaml));
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "Network.progress_every: expected at most"))
      << r.output;
  // Nothing was created.
  const CommandResult list = Client("--output json list");
  EXPECT_FALSE(absl::StrContains(list.output, "jobs/")) << list.output;
}

TEST_F(LiveViewTest, FollowShowsTestProgressAndJobEtaAndEndsWithASummary) {
  // 3 epochs of 2 batches per pass, a record per batch.
  const std::string config = WriteConfig("tiny", TinyConfig(3, 100));
  const CommandResult r =
      Client("submit " + config + " --name live --progress-every 1 --follow");
  ASSERT_EQ(r.code, 0) << r.output;
  const size_t at = r.output.find("submitted jobs/");
  ASSERT_NE(at, std::string::npos) << r.output;
  const std::string job = r.output.substr(at + 10, r.output.find(' ', at + 10) - at - 10);
  const std::string id = job.substr(5);
  // Not a terminal: one line per record, the test pass's too.
  EXPECT_TRUE(absl::StrContains(r.output, "epoch 1  batch 1/2")) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "epoch 3  test batch 2/2")) << r.output;
  // After training batch 1 of epoch 1 the pace is known: the job's eta follows.
  size_t first = r.output.find("epoch 1  batch 1/2");
  ASSERT_NE(first, std::string::npos);
  const std::string line = r.output.substr(first, r.output.find('\n', first) - first);
  EXPECT_TRUE(absl::StrContains(line, "  job eta ")) << line;

  // The summary's best epoch and accuracy are those `metrics` reports.
  const CommandResult metrics = Client("metrics " + job + " --format jsonl");
  ASSERT_EQ(metrics.code, 0) << metrics.output;
  double best = -1;
  int64_t best_epoch = 0;
  for (absl::string_view l : absl::StrSplit(metrics.output, '\n', absl::SkipEmpty())) {
    const nlohmann::json e = nlohmann::json::parse(l);
    if (e["test_accuracy"].get<double>() > best) {
      best = e["test_accuracy"].get<double>();
      best_epoch = e["epoch"].get<int64_t>();
    }
  }
  ASSERT_GT(best_epoch, 0);
  const fs::path dir = (dir_ / "jobs" / id).lexically_normal();
  const std::string client = absl::StrCat("edbp-client --server ", server_->address());
  const std::string expected = absl::StrCat(
      "summary: ", job, " \"live\" SUCCEEDED after 3/3 epochs\n",
      "  best test accuracy: ", absl::StrFormat("%.2f%%", 100 * best), " at epoch ",
      best_epoch, "\n", "  checkpoints (on the server's machine):\n",
      "    last (epoch 3): ", (dir / "checkpoint_last.safetensors").string(), "\n",
      "    best (epoch ", best_epoch,
      "): ", (dir / "checkpoint_best.safetensors").string(), "\n", "  download: ", client,
      " download ", job, " -o job", id, "_last.safetensors\n", "            ", client,
      " download ", job, " --best -o job", id, "_best.safetensors\n");
  ASSERT_TRUE(absl::EndsWith(r.output, expected)) << r.output << "\n--- expected:\n"
                                                  << expected;
  // The commands it prints work as printed (edbp-client from the build's bin dir).
  const std::string bin = fs::path(EDBP_CLIENT_BIN).parent_path().string();
  for (const char* kind : {"last", "best"}) {
    const size_t at =
        expected.find(absl::StrCat(" -o job", id, "_", kind, ".safetensors"));
    const size_t start = expected.rfind("edbp-client", at);
    const std::string command =
        expected.substr(start, expected.find('\n', start) - start);
    const CommandResult d = RunCommand(
        absl::StrCat("cd ", dir_.string(), " && PATH=", bin, ":$PATH ", command));
    ASSERT_EQ(d.code, 0) << command << "\n" << d.output;
    EXPECT_TRUE(ReadFile(dir_ / absl::StrCat("job", id, "_", kind, ".safetensors")) ==
                ReadFile(dir / absl::StrCat("checkpoint_", kind, ".safetensors")))
        << kind;
  }
  // watch of the ended job ends with the same summary.
  const CommandResult watch = Client("watch " + job);
  EXPECT_EQ(watch.code, 0) << watch.output;
  EXPECT_TRUE(absl::EndsWith(watch.output, expected)) << watch.output;
}

TEST_F(LiveViewTest, ACancelledJobsSummaryAndAResumeSayWhy) {
  const std::string job = Submit(WriteConfig("long", TinyConfig(20, 300)));
  ASSERT_TRUE(WaitForFirstEpoch(job));
  ASSERT_EQ(Client("cancel " + job).code, 0);
  const v1::Job cancelled = WaitFor(job, v1::CANCELLED);
  ASSERT_EQ(cancelled.state(), v1::CANCELLED);
  ASSERT_FALSE(cancelled.error().empty());
  CommandResult watch = Client("watch " + job);
  EXPECT_EQ(watch.code, 1) << watch.output;
  EXPECT_TRUE(absl::StrContains(
      watch.output,
      absl::StrCat("summary: ", job, " \"long\" CANCELLED after ", cancelled.last_epoch(),
                   "/20 epochs: ", cancelled.error(), "\n")))
      << watch.output;
  EXPECT_TRUE(absl::StrContains(watch.output, " download " + job + " -o job"))
      << watch.output;
  // Resumed: the server's line and edbp-train's say so, in watch's history too.
  ASSERT_EQ(Client("resume " + job).code, 0);
  ASSERT_EQ(WaitFor(job, v1::SUCCEEDED, 300s).state(), v1::SUCCEEDED);
  watch = Client("watch " + job);
  EXPECT_EQ(watch.code, 0) << watch.output;
  EXPECT_TRUE(absl::StrContains(watch.output,
                                "INFO  resumed by a client; it continues from its last "
                                "checkpoint ("))
      << watch.output;
  EXPECT_TRUE(absl::StrContains(watch.output, "INFO  resuming ")) << watch.output;
  EXPECT_TRUE(absl::StrContains(watch.output, absl::StrCat("summary: ", job,
                                                           " \"long\" SUCCEEDED after "
                                                           "20/20 epochs\n")))
      << watch.output;
}

}  // namespace
}  // namespace edbp

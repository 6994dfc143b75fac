// edbp-client's commands, run in-process against FakeTrainingService.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/args.h"
#include "client/cli/cli.h"
#include "client/cli/dashboard_command.h"
#include "client/cli/gradient_flow_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/client/fake_training_service.h"
#include "tests/wait_until.h"

namespace edbp::cli {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result RunWith(const std::vector<std::string>& args, bool interactive = false) {
  std::ostringstream out;
  std::ostringstream err;
  CliEnvironment environment;
  environment.interactive = interactive;
  Result r;
  r.code = RunCli(args, out, err, environment);
  r.out = out.str();
  r.err = err.str();
  return r;
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("edbp_client_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~ClientTest() override { std::filesystem::remove_all(dir_); }

  // Runs edbp-client with --server pointing at the fake.
  Result Run(std::vector<std::string> args, bool interactive = false) {
    args.insert(args.begin(), {"--server", server_.address()});
    return RunWith(args, interactive);
  }

  std::string WriteConfig(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  testing::FakeServer server_;
  std::filesystem::path dir_;
};

TEST_F(ClientTest, SubmitPrintsTheJobAndSendsTheRequest) {
  const std::string config = WriteConfig("mnist.yaml", "Network:\n  epochs: 2\n");
  const Result r = Run({"submit", config, "--priority", "7"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "submitted jobs/6 \"mnist\" (QUEUED, priority 7)\n");
  const auto requests = server_.service().create_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].config_yaml(), "Network:\n  epochs: 2\n");
  EXPECT_EQ(requests[0].display_name(), "mnist");  // the file's stem
  EXPECT_EQ(requests[0].priority(), 7);
  EXPECT_FALSE(requests[0].validate_only());
  EXPECT_THAT(requests[0].request_id(),
              MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                           "[0-9a-f]{12}"));
}

TEST_F(ClientTest, SubmitRetriesUnavailableWithTheSameRequestId) {
  server_.service().FailNextCreates(1);
  const std::string config = WriteConfig("a.yaml", "x: 1\n");
  const Result r = Run({"submit", config, "--name", "named", "--request-id", "req-1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("submitted jobs/6 \"named\""));
  const auto requests = server_.service().create_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].request_id(), "req-1");
  EXPECT_EQ(requests[1].request_id(), "req-1");
}

TEST_F(ClientTest, SubmitBadConfigExits5WithEveryLine) {
  const std::string config = WriteConfig("broken.yaml", "bad: true\n");
  const Result r = Run({"submit", config});
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, absl::StrCat("edbp-client: ", testing::kBadConfigLine1, "\n",
                                "edbp-client: ", testing::kBadConfigLine2, "\n"));
}

// Issue 17: a proto string must be UTF-8, so the server could only answer an
// unparsable request (INTERNAL, no message): the client says what and where.
TEST_F(ClientTest, SubmitInvalidUtf8ConfigExits5) {
  const std::string config = WriteConfig("latin1.yaml", "Network:\n  name: caf\xe9\n");
  const Result r = Run({"submit", config});
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(r.err, "edbp-client: " + config +
                       ": not valid UTF-8 at byte 20\n");  // the é of Latin-1
  EXPECT_TRUE(server_.service().create_requests().empty());
}

TEST_F(ClientTest, SubmitValidateOnlyCreatesNothing) {
  const std::string config = WriteConfig("ok.yaml", "x: 1\n");
  const size_t jobs = server_.service().job_count();
  const Result r = Run({"submit", "--validate-only", config});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, config + ": the config is valid\n");
  EXPECT_TRUE(server_.service().create_requests().at(0).validate_only());
  EXPECT_EQ(server_.service().job_count(), jobs);
}

TEST_F(ClientTest, SubmitJsonIsTheJob) {
  const std::string config = WriteConfig("j.yaml", "x: 1\n");
  const Result r = Run({"submit", config, "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json job = nlohmann::json::parse(r.out);
  EXPECT_EQ(job["name"], "jobs/6");
  EXPECT_EQ(job["display_name"], "j");
  EXPECT_EQ(job["state"], "QUEUED");
}

TEST_F(ClientTest, SubmitFollowWatchesTheNewJob) {
  const std::string config = WriteConfig("f.yaml", "x: 1\n");
  const Result r = Run({"submit", config, "--follow"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("submitted jobs/6"), HasSubstr("state: RUNNING"),
                           HasSubstr("2/2"), HasSubstr("state: SUCCEEDED")));
  EXPECT_THAT(server_.service().watch_from_sequences("jobs/6"), ElementsAre(1));
}

TEST_F(ClientTest, SubmitUnreadableConfigIsAUsageError) {
  const Result r = Run({"submit", (dir_ / "missing.yaml").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot read"));
  EXPECT_TRUE(server_.service().create_requests().empty());
}

TEST_F(ClientTest, ListShowsEveryPage) {
  const Result r = Run({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;  // header + 5 jobs
  EXPECT_THAT(lines[0], MatchesRegex("ID +NAME +STATE +PRIORITY +EPOCH +BEST_ACC +DEVICE "
                                     "+CREATED"));
  EXPECT_THAT(lines[1], MatchesRegex(" *5 +flaky +SUCCEEDED +0 +2/2 +90.00% +cpu:0 +.*"));
  EXPECT_THAT(lines[3], MatchesRegex(" *3 +cifar +QUEUED +5 +0/2 +- +- +.*"));
  EXPECT_THAT(lines[5], MatchesRegex(" *1 +mnist +SUCCEEDED .*"));
  EXPECT_EQ(server_.service().list_calls(), 3);  // pages of 2
}

TEST_F(ClientTest, ListFiltersByState) {
  const Result r = Run({"list", "--state", "failed"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[1], HasSubstr("fmnist"));
}

TEST_F(ClientTest, ListJsonIsOneDocumentWithAllJobs) {
  const Result r = Run({"--output=json", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["jobs"].size(), 5u);
  EXPECT_EQ(doc["jobs"][0]["name"], "jobs/5");
  EXPECT_EQ(doc["jobs"][4]["name"], "jobs/1");
  EXPECT_EQ(doc["next_page_token"], "");
}

TEST_F(ClientTest, GetShowsEveryField) {
  const Result r = Run({"get", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, MatchesRegex("(.|\n)*name: +jobs/2\n(.|\n)*"));
  EXPECT_THAT(
      r.out,
      AllOf(HasSubstr("display name:   fmnist\n"), HasSubstr("state:          FAILED\n"),
            HasSubstr("error:          edbp-train exited with status 1\n"),
            HasSubstr("priority:       0\n"), HasSubstr("epochs:         2/2\n"),
            HasSubstr("best test acc:  90.00%\n"), HasSubstr("device:         cpu:0\n"),
            HasSubstr("started:        -\n"), HasSubstr("last event:     4\n")));
  EXPECT_TRUE(absl::EndsWith(r.out, "config:\n  Network:\n    epochs: 2\n")) << r.out;
}

TEST_F(ClientTest, GetJsonAcceptsFlagsAfterTheCommand) {
  const Result r = Run({"get", "jobs/1", "--output", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json job = nlohmann::json::parse(r.out);
  EXPECT_EQ(job["name"], "jobs/1");
  EXPECT_EQ(job["state"], "SUCCEEDED");
  EXPECT_EQ(job["best_test_accuracy"], 0.9);
  EXPECT_EQ(job["last_sequence"], 11);  // a number (client::ToJson), not a string
}

TEST_F(ClientTest, GetUnknownJobExits4) {
  const Result r = Run({"get", "42"});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.err, "edbp-client: job jobs/42 not found\n");
}

TEST_F(ClientTest, CancelQueuedJob) {
  Result r = Run({"cancel", "3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "jobs/3 CANCELLED\n");
  r = Run({"get", "3", "--output", "json"});
  EXPECT_EQ(nlohmann::json::parse(r.out)["state"], "CANCELLED");
}

TEST_F(ClientTest, CancelEndedJobExits1) {
  const Result r = Run({"cancel", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "edbp-client: job jobs/1 already ended (SUCCEEDED)\n");
}

TEST_F(ClientTest, WatchFromStartShowsEverything) {
  const Result r = Run({"watch", "1", "--from-start"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("state: RUNNING on cpu:0\n"),
                           HasSubstr("epoch 1  batch 50/100  loss 0.5000  acc 75.00%"),
                           HasSubstr("INFO  epoch 1 started\n"),
                           HasSubstr("WARN  learning rate reduced\n"),
                           HasSubstr("checkpoint: last saved after epoch 1\n"),
                           HasSubstr("checkpoint: best saved after epoch 2\n"),
                           HasSubstr("state: SUCCEEDED\n")));
  EXPECT_THAT(r.out,
              HasSubstr("    1/2      0.2500     87.50%     0.3000     80.00%      "
                        "0.001       12.5           4000.0  *best\n"));
  EXPECT_THAT(r.out,
              HasSubstr("    layer     ‖dL/dW‖  mean dL/dW  max |dL/dW|  Σ dL/dt in  "
                        "Σ dL/dx out   rate  silent  ‖W‖   ‖ΔW‖/‖W‖\n"
                        "    conv_1  1.230e-02   0.000e+00    0.000e+00        -1.5  "
                        "       2.25  0.125     50%  3.5  1.000e-03\n"
                        "    fc_2    1.230e-02   0.000e+00    0.000e+00        -1.5  "
                        "       2.25  0.125     50%  3.5  1.000e-03\n"));
  EXPECT_EQ(Count(r.out, "train loss"), 2u);  // a header above each epoch row
  EXPECT_EQ(Count(r.out, "conv_1"), 2u);      // a layer table under each epoch row
}

TEST_F(ClientTest, WatchSummarizesTheHistoryByDefault) {
  const Result r = Run({"watch", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("1/2"), HasSubstr("2/2"), HasSubstr("state: SUCCEEDED"),
                    Not(HasSubstr("batch")), Not(HasSubstr("learning rate")),
                    Not(HasSubstr("checkpoint: "))));
  EXPECT_EQ(Count(r.out, "train loss"), 1u);  // the epoch rows form one table
  EXPECT_EQ(Count(r.out, "conv_1"), 1u);      // the latest epoch's layers only
  EXPECT_LT(r.out.find("2/2"), r.out.find("conv_1"));
}

// Issue 19: the text output ends with the job's summary (follow_summary.h), from the
// events (best epoch, checkpoints) and the ended job; JSON output has none.
TEST_F(ClientTest, WatchEndsWithASummary) {
  const Result r = Run({"watch", "1"});
  EXPECT_EQ(r.code, 0) << r.err;
  const std::string client = "edbp-client --server " + server_.address();
  EXPECT_TRUE(absl::EndsWith(r.out,
                             "summary: jobs/1 \"mnist\" SUCCEEDED after 2/2 epochs\n"
                             "  best test accuracy: 90.00% at epoch 2\n"
                             "  checkpoints (on the server's machine):\n"
                             "    last (epoch 1): (path not reported)\n"
                             "    best (epoch 2): (path not reported)\n"
                             "  download: " +
                                 client + " download jobs/1 -o job1_last.safetensors\n" +
                                 "            " + client +
                                 " download jobs/1 --best -o job1_best.safetensors\n"))
      << r.out;
  const Result failed = Run({"watch", "2", "--from-start"});
  EXPECT_EQ(failed.code, 1);
  EXPECT_THAT(failed.out, HasSubstr("summary: jobs/2 \"fmnist\" FAILED after 2/2 epochs: "
                                    "edbp-train exited with status 1\n"));
  const Result json = Run({"watch", "1", "--output", "json"});
  EXPECT_THAT(json.out, Not(HasSubstr("summary")));
}

TEST_F(ClientTest, WatchFailedJobExits1) {
  const Result r = Run({"watch", "2", "--from-start"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out,
              AllOf(HasSubstr("ERROR CUDA out of memory\n"),
                    HasSubstr("state: FAILED: edbp-train exited with status 1\n")));
}

TEST_F(ClientTest, WatchJsonIsOneEventPerLine) {
  const Result r = Run({"watch", "1", "--from-start", "--output", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 11u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json event = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(event["sequence"], i + 1);
    EXPECT_EQ(event["job"], "jobs/1");
  }
  const nlohmann::json epoch = nlohmann::json::parse(lines[4]);
  EXPECT_EQ(epoch["epoch_metrics"]["layers"][1]["name"], "fc_2");
  EXPECT_EQ(nlohmann::json::parse(lines[10])["state_change"]["state"], "SUCCEEDED");
}

TEST_F(ClientTest, WatchOnATerminalRewritesOneProgressLine) {
  const Result r = Run({"watch", "1", "--from-start"}, /*interactive=*/true);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\r\033[Kepoch 1  [##########..........] batch 50/100"));
  EXPECT_THAT(r.out, HasSubstr("\r\033[Kepoch 1  [####################] batch 100/100"));
  EXPECT_THAT(r.out, Not(HasSubstr("batch 50/100  loss 0.5000  acc 75.00%  1000 samples/s"
                                   "  eta 12s\n")));
}

TEST_F(ClientTest, WatchResumesAfterALostStream) {
  const Result r = Run({"watch", "5", "--from-start"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("reconnecting"));
  EXPECT_EQ(Count(r.out, "state: RUNNING"), 1u);
  EXPECT_EQ(Count(r.out, "batch 50/100"), 1u);
  EXPECT_EQ(Count(r.out, "train loss"), 2u);  // the epoch table's header, once per row
  EXPECT_THAT(server_.service().watch_from_sequences("jobs/5"), ElementsAre(1, 4));
}

TEST(ClientOutageTest, WatchGivesUpWhenTheServerStaysAway) {
  auto server = std::make_unique<testing::FakeServer>();
  const std::string address = server->address();
  Result r;
  const auto start = std::chrono::steady_clock::now();
  // jobs/4 is RUNNING: its stream stays open until the server goes.
  std::thread watcher([&] {
    r = RunWith({"--server", address, "--timeout", "1", "watch", "4"});
  });
  EXPECT_TRUE(edbp::testing::WaitUntil(
      [&] { return !server->service().watch_from_sequences("jobs/4").empty(); },
      std::chrono::seconds(10)));
  server.reset();  // and nothing listens there again
  watcher.join();
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("edbp-client: lost the event stream ("));
  // The stream, then three probes of 1 s each (--timeout): the policy's four attempts.
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("edbp-client: cannot reach edbp-server at ",
                                            address, ": ")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST_F(ClientTest, WatchUnknownJobExits4) {
  EXPECT_EQ(Run({"watch", "77"}).code, 4);
  EXPECT_EQ(Run({"watch", "77", "--from-start"}).code, 4);
}

TEST_F(ClientTest, LogsPrintsOnlyLogLinesAndStopsAtTheLatestEvent) {
  const auto start = std::chrono::steady_clock::now();
  const Result r = Run({"logs", "4", "--events"});  // its stream stays open after event 4
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[0], MatchesRegex("[0-9-]+ [0-9:]+ INFO  hello"));
  EXPECT_THAT(lines[1], MatchesRegex("[0-9-]+ [0-9:]+ INFO  world"));
}

TEST_F(ClientTest, LogsJson) {
  const Result r = Run({"logs", "1", "--events", "--output", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["log"]["text"], "learning rate reduced");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["log"]["level"], "WARNING");
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(ClientTest, DownloadWritesTheChunks) {
  const std::filesystem::path file = dir_ / "last.ckpt";
  Result r = Run({"download", "1", "-o", file.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFile(file), "abcdefghi");
  EXPECT_THAT(r.out, HasSubstr("(9 bytes)"));

  r = Run({"download", "1", "--best", "-o", file.string(), "--output", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFile(file), "BEST|ckpt");
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["bytes"], 9);
  EXPECT_EQ(doc["checkpoint"], "best");
  // Only the file itself: no temporary file is left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(ClientTest, DownloadFailuresLeaveNoFile) {
  const std::filesystem::path file = dir_ / "x.ckpt";
  Result r = Run({"download", "2", "-o", file.string()});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(r.err, "edbp-client: no checkpoint of jobs/2 yet\n");
  r = Run({"download", "5", "-o", file.string()});  // 9 of 100 bytes
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("incomplete: got 9 of 100 bytes"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(ClientTest, UsageErrorsExit2) {
  Result r = Run({"frob"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("edbp-client: unknown command 'frob'\n"),
                           HasSubstr("usage: edbp-client")));
  r = Run({"get"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("edbp-client: get: missing JOB\n"));
  EXPECT_EQ(Run({"download", "1"}).code, 2);         // no -o
  EXPECT_EQ(Run({"watch", "1", "--best"}).code, 2);  // not a flag of watch
  EXPECT_EQ(Run({"get", "1", "2"}).code, 2);         // one JOB only
  EXPECT_EQ(Run({"get", ""}).code, 2);               // "job-1" would be a display name
  // Typos get a suggestion.
  r = Run({"sumbit", "x.yaml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'sumbit' (did you mean 'submit'?)"));
  r = Run({"submit", "x.yaml", "--folow"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --folow (did you mean --follow?)"));
  r = Run({"dashbaord"});
  EXPECT_THAT(r.err, HasSubstr("(did you mean 'dashboard'?)"));
  r = Run({"list", "--zzzzzzzz"});
  EXPECT_THAT(r.err, HasSubstr("unknown flag --zzzzzzzz\n"));  // nothing close
  EXPECT_EQ(Run({"--output", "yaml", "list"}).code, 2);
  EXPECT_EQ(Run({"list", "--state", "sleeping"}).code, 2);
  EXPECT_EQ(RunWith({}).code, 2);
}

TEST_F(ClientTest, HelpListsCommandsAndExitCodes) {
  const Result r = RunWith({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, AllOf(HasSubstr("submit CONFIG.yaml"),
                           HasSubstr("download JOB -o FILE"), HasSubstr("Exit codes:"),
                           HasSubstr("3  edbp-server cannot be reached"),
                           HasSubstr("5  invalid argument")));
  EXPECT_EQ(RunWith({"help"}).out, r.out);
  // After a command, --help is that command's (issue 19 item 8).
  EXPECT_EQ(RunWith({"list", "-h"}).out, CommandHelpText("list"));
}

// Every command that --help lists has a help of its own, as COMMAND --help and as
// help COMMAND: exit 0, its usage line and an example.
TEST_F(ClientTest, EveryListedCommandHasItsHelp) {
  const Result all = RunWith({"--help"});
  ASSERT_EQ(all.code, 0);
  std::set<std::string> listed;
  const std::regex entry("^  ([a-z][a-z-]+)( |$)");
  std::istringstream lines(all.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, entry)) listed.insert(m[1]);
  }
  const std::vector<std::string> names = CommandNames();
  EXPECT_EQ(listed, std::set<std::string>(names.begin(), names.end()));
  for (const std::string& name : listed) {
    const Result r = RunWith({name, "--help"});
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.err, "") << name;
    EXPECT_THAT(r.out, HasSubstr("usage: edbp-client [GLOBAL FLAGS] " + name)) << name;
    EXPECT_THAT(r.out, HasSubstr("Example:\n  edbp-client ")) << name;
    EXPECT_NE(r.out, all.out) << name;
    const Result h = RunWith({"help", name});
    EXPECT_EQ(h.code, 0) << name;
    EXPECT_EQ(h.out, r.out) << name;
  }
  EXPECT_EQ(RunWith({"help", "dashboard"}).out, DashboardHelpText());
  EXPECT_EQ(RunWith({"help", "gradient-flow"}).out, GradientFlowHelpText());
  const Result typo = RunWith({"help", "wacth"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_THAT(typo.err, HasSubstr("unknown command 'wacth' (did you mean 'watch'?)"));
  EXPECT_EQ(typo.out, "");
}

TEST(CliEnvironmentTest, ServerFromTheEnvironment) {
  ASSERT_EQ(setenv("EDBP_SERVER", "example.org:7", 1), 0);
  EXPECT_EQ(EnvironmentFromProcess().default_server, "example.org:7");
  ASSERT_EQ(setenv("EDBP_SERVER", "", 1), 0);
  EXPECT_EQ(EnvironmentFromProcess().default_server, "127.0.0.1:50051");
  unsetenv("EDBP_SERVER");
  EXPECT_EQ(EnvironmentFromProcess().default_server, "127.0.0.1:50051");
}

TEST_F(ClientTest, SubmitDirectoryIsAUsageError) {
  EXPECT_EQ(Run({"submit", dir_.string()}).code, 2);
  EXPECT_TRUE(server_.service().create_requests().empty());
}

TEST(ClientUnreachableTest, ClosedPortExits3WithOneLine) {
  const std::string address = absl::StrCat("127.0.0.1:", testing::ClosedPort());
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"list"}, {"watch", "1", "--from-start"}}) {
    std::vector<std::string> args = {"--server", address, "--timeout", "3"};
    args.insert(args.end(), command.begin(), command.end());
    const auto start = std::chrono::steady_clock::now();
    const Result r = RunWith(args);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
    EXPECT_EQ(r.code, 3);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err,
                MatchesRegex(absl::StrCat("edbp-client: cannot reach edbp-server at ",
                                          address, ": [^\n]+\n")));
  }
}

}  // namespace
}  // namespace edbp::cli

// The dashboard's gradient-flow reports (issue 19 item 5, gradient_flow_api.cc), its
// vocabulary (/api/statistics) and the class names of a job's data set, against the
// fake TrainingService. A shell script stands in for edbp-train: it records each call,
// answers with what it was given (so the test sees which checkpoint and seed went in),
// fails or takes its time on request.
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/unit/client/fake_training_service.h"
#include "tests/unit/dashboard/dashboard_fixture.h"
#include "tests/wait_until.h"

namespace edbp::dashboard {
namespace {

namespace fs = std::filesystem;
using cli::testing::FakeServer;
using testing::Dashboard;
using ::testing::HasSubstr;

// edbp-train's command line as the dashboard runs it:
//   CONFIG --init-weights CHECKPOINT --gradient-flow OUT --seed SEED
constexpr char kFakeTrain[] = R"sh(#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
if [ -f "$dir/fail" ]; then echo "edbp-train: cannot read $3"; exit 3; fi
if [ -f "$dir/slow" ]; then echo $$ > "$dir/pid"; sleep 3; fi
printf '{"weights":"%s","checkpoint":"%s","seed":%s,"config":"%s","batch":0}' \
  "$3" "$(cat "$3")" "$7" "$1" > "$5.json"
echo "wrote $5.json and $5.html"
)sh";

class GradientFlowApiTest : public ::testing::Test {
 protected:
  GradientFlowApiTest() {
    char pattern[] = "/tmp/edbp-flow-api-test-XXXXXX";
    dir_ = mkdtemp(pattern);
    train_ = dir_ / "edbp-train";
    std::ofstream(train_) << kFakeTrain;
    chmod(train_.c_str(), 0755);
    fake_.service().SetConfig("jobs/1", "Network:\n  dataset: FashionMNIST\n", 42);
  }
  ~GradientFlowApiTest() override { fs::remove_all(dir_); }

  // Status, the X-Edbp-Report header and the parsed body of a GET.
  struct Answer {
    int status = 0;
    std::string report;
    std::string text;
    nlohmann::json body() const { return nlohmann::json::parse(text, nullptr, false); }
  };
  Answer Get(Dashboard& dashboard, const std::string& path) {
    httplib::Client client = dashboard.Client();
    client.set_read_timeout(30, 0);
    httplib::Result r = client.Get(path);
    if (!r) return {};
    return {r->status, r->get_header_value("X-Edbp-Report"), r->body};
  }
  int Calls() const {
    std::ifstream in(dir_ / "calls");
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }

  fs::path dir_;
  fs::path train_;
  FakeServer fake_;
};

TEST_F(GradientFlowApiTest, MakesAReportOncePerCheckpoint) {
  Dashboard dashboard(fake_.address(), train_.string());
  Answer last = Get(dashboard, "/api/jobs/1/gradient-flow");  // last by default
  ASSERT_EQ(last.status, 200) << last.body().dump();
  EXPECT_EQ(last.report, "computed");
  EXPECT_EQ(last.body()["weights"], "job-1-last.safetensors");
  EXPECT_EQ(last.body()["checkpoint"], "abcdefghi");  // the downloaded bytes
  EXPECT_EQ(last.body()["seed"], 42);                 // the job's seed
  EXPECT_EQ(last.body()["config"], "job-1.yaml");
  EXPECT_EQ(Calls(), 1);
  // The same checkpoint again: from memory, edbp-train is not run.
  Answer again = Get(dashboard, "/api/jobs/1/gradient-flow?checkpoint=last");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.report, "cached");
  EXPECT_EQ(again.body(), last.body());
  EXPECT_EQ(Calls(), 1);
  // The best checkpoint is another one.
  Answer best = Get(dashboard, "/api/jobs/1/gradient-flow?checkpoint=best");
  ASSERT_EQ(best.status, 200) << best.body().dump();
  EXPECT_EQ(best.report, "computed");
  EXPECT_EQ(best.body()["weights"], "job-1-best.safetensors");
  EXPECT_EQ(best.body()["checkpoint"], "BEST|ckpt");
  EXPECT_EQ(Calls(), 2);
  // A new seed of the job (a changed config) is another report, too.
  fake_.service().SetConfig("jobs/1", "Network:\n  dataset: FashionMNIST\n", 7);
  Answer seeded = Get(dashboard, "/api/jobs/1/gradient-flow");
  EXPECT_EQ(seeded.report, "computed");
  EXPECT_EQ(seeded.body()["seed"], 7);
  EXPECT_EQ(Calls(), 3);
}

TEST_F(GradientFlowApiTest, BadRequestsAreRefusedBeforeAnythingRuns) {
  Dashboard dashboard(fake_.address(), train_.string());
  Answer bad_id = Get(dashboard, "/api/jobs/abc/gradient-flow");
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(bad_id.body()["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(bad_id.body()["error"].get<std::string>(),
              HasSubstr("invalid job id 'abc'"));
  EXPECT_EQ(Get(dashboard, "/api/jobs/99999999999999999999/gradient-flow").status, 400);
  Answer bad_kind = Get(dashboard, "/api/jobs/1/gradient-flow?checkpoint=worst");
  EXPECT_EQ(bad_kind.status, 400);
  EXPECT_THAT(bad_kind.body()["error"].get<std::string>(),
              HasSubstr("checkpoint must be last or best, not 'worst'"));
  // No such job; a job without a checkpoint (the fake has one for jobs/1 and 5 only).
  EXPECT_EQ(Get(dashboard, "/api/jobs/77/gradient-flow").status, 404);
  Answer none = Get(dashboard, "/api/jobs/2/gradient-flow");
  EXPECT_EQ(none.status, 404);
  EXPECT_THAT(none.body()["error"].get<std::string>(),
              HasSubstr("no checkpoint of jobs/2"));
  // A download that ends early (9 of 100 bytes) is no checkpoint.
  Answer torn = Get(dashboard, "/api/jobs/5/gradient-flow");
  EXPECT_EQ(torn.status, 502);
  EXPECT_EQ(torn.body()["code"], "DATA_LOSS");
  EXPECT_THAT(torn.body()["error"].get<std::string>(),
              HasSubstr("ended after 9 of 100 bytes"));
  EXPECT_EQ(Calls(), 0);
}

TEST_F(GradientFlowApiTest, AFailedRunShowsItsOutputAndIsNotKept) {
  Dashboard dashboard(fake_.address(), train_.string());
  std::ofstream(dir_ / "fail") << "";
  Answer failed = Get(dashboard, "/api/jobs/1/gradient-flow");
  EXPECT_EQ(failed.status, 500);
  EXPECT_THAT(failed.body()["error"].get<std::string>(),
              HasSubstr("failed (exit status 3): edbp-train: cannot read "
                        "job-1-last.safetensors"));
  fs::remove(dir_ / "fail");
  Answer ok = Get(dashboard, "/api/jobs/1/gradient-flow");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.report, "computed");
  EXPECT_EQ(Calls(), 2);
}

TEST_F(GradientFlowApiTest, OneReportIsMadeAtATime) {
  Dashboard dashboard(fake_.address(), train_.string());
  std::ofstream(dir_ / "slow") << "";
  Answer first;
  std::thread slow([&] { first = Get(dashboard, "/api/jobs/1/gradient-flow"); });
  ASSERT_TRUE(
      edbp::testing::WaitUntil([&] { return Calls() == 1; }, std::chrono::seconds(10)));
  Answer busy = Get(dashboard, "/api/jobs/1/gradient-flow?checkpoint=best");
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.body()["code"], "RESOURCE_EXHAUSTED");
  slow.join();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(Calls(), 1);
  // Once done, the next one runs; the first one answers from memory meanwhile.
  EXPECT_EQ(Get(dashboard, "/api/jobs/1/gradient-flow").report, "cached");
}

// edbp-train killed (kill -9) in the middle of a report: the request is answered with
// an error that says so, nothing half-made is kept, and the next request runs anew.
TEST_F(GradientFlowApiTest, AKilledRunIsAnErrorAndTheNextOneRuns) {
  Dashboard dashboard(fake_.address(), train_.string());
  std::ofstream(dir_ / "slow") << "";
  Answer killed;
  std::thread slow([&] { killed = Get(dashboard, "/api/jobs/1/gradient-flow"); });
  pid_t pid = 0;
  ASSERT_TRUE(edbp::testing::WaitUntil(
      [&] {
        std::ifstream in(dir_ / "pid");
        return static_cast<bool>(in >> pid) && pid > 0;
      },
      std::chrono::seconds(10)));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  slow.join();
  EXPECT_EQ(killed.status, 500) << killed.text;
  EXPECT_THAT(killed.body()["error"].get<std::string>(), HasSubstr("signal 9"))
      << killed.text;
  fs::remove(dir_ / "slow");
  const Answer again = Get(dashboard, "/api/jobs/1/gradient-flow");
  EXPECT_EQ(again.status, 200) << again.text;
  EXPECT_EQ(again.report, "computed");
  EXPECT_EQ(Calls(), 2);
}

TEST_F(GradientFlowApiTest, WithoutEdbpTrainTheAnswerSaysSo) {
  Dashboard dashboard(fake_.address(), (dir_ / "missing").string());
  Answer answer = Get(dashboard, "/api/jobs/1/gradient-flow");
  EXPECT_EQ(answer.status, 503);
  EXPECT_THAT(answer.body()["error"].get<std::string>(),
              HasSubstr((dir_ / "missing").string() + ": not an executable file"));
}

TEST_F(GradientFlowApiTest, TheVocabularyAndClassNamesReachThePage) {
  Dashboard dashboard(fake_.address(), train_.string());
  Answer statistics = Get(dashboard, "/api/statistics");
  ASSERT_EQ(statistics.status, 200);
  EXPECT_EQ(statistics.body()["epoch"][2]["name"], "train_loss");
  EXPECT_EQ(statistics.body()["epoch"][2]["label"], "train loss");
  EXPECT_EQ(statistics.body()["layer"][0]["name"], "grad_norm");
  EXPECT_EQ(statistics.body()["layer"][0]["label"], "‖dL/dW‖");
  EXPECT_EQ(statistics.body()["layer"][5]["unit"], "spikes/neuron/step");
  EXPECT_EQ(statistics.body()["layer"].size(), 9u);

  Answer job = Get(dashboard, "/api/jobs/1");
  ASSERT_EQ(job.status, 200);
  ASSERT_EQ(job.body()["class_names"].size(), 10u);
  EXPECT_EQ(job.body()["class_names"][0], "T-shirt/top");
  EXPECT_EQ(job.body()["class_names"][9], "Ankle boot");
  fake_.service().SetConfig("jobs/1", "Network:\n  dataset: CIFAR10\n", 1);
  EXPECT_EQ(Get(dashboard, "/api/jobs/1").body()["class_names"][1], "automobile");
  fake_.service().SetConfig("jobs/1", "Network:\n  dataset: MNIST\n", 1);
  EXPECT_TRUE(Get(dashboard, "/api/jobs/1").body()["class_names"].empty());
  fake_.service().SetConfig("jobs/1", "not: [yaml\n", 1);
  EXPECT_TRUE(Get(dashboard, "/api/jobs/1").body()["class_names"].empty());
}

}  // namespace
}  // namespace edbp::dashboard

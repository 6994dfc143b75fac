// The dashboard's run comparison, sweep and lifecycle endpoints (runs_api.cc) against
// the fake TrainingService, and run_json.h's pure functions.
#include <map>
#include <string>
#include <vector>

#include "client/dashboard/run_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/unit/client/fake_training_service.h"
#include "tests/unit/dashboard/dashboard_fixture.h"

namespace edbp::dashboard {
namespace {

using cli::testing::FakeServer;
using testing::Dashboard;
using ::testing::HasSubstr;

const httplib::Headers kPost = {{"X-Edbp-Dashboard", "1"}};

class RunsApiTest : public ::testing::Test {
 protected:
  // Status and parsed body of a GET (or of a POST with the dashboard's header).
  std::pair<int, nlohmann::json> Get(const std::string& path) {
    httplib::Result r = dashboard_.Client().Get(path);
    if (!r) return {0, nullptr};
    return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
  }
  std::pair<int, nlohmann::json> Post(const std::string& path) {
    httplib::Result r = dashboard_.Client().Post(path, kPost, "", "text/plain");
    if (!r) return {0, nullptr};
    return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
  }

  FakeServer fake_;
  Dashboard dashboard_{fake_.address()};
};

TEST(FlattenConfigTest, FlattensNetworkAndLayersOnly) {
  absl::StatusOr<std::map<std::string, std::string>> flat = FlattenConfig(
      "Network:\n  lr: 0.0005\n  input_shape: [1, 28, 28]\n  dataset: \"MNIST\"\n"
      "Layers:\n  conv_1:\n    type: conv\n    out_channels: 15\n"
      "Other:\n  ignored: 1\n");
  ASSERT_TRUE(flat.ok()) << flat.status();
  const std::map<std::string, std::string> want = {{"Network.lr", "0.0005"},
                                                   {"Network.input_shape", "[1, 28, 28]"},
                                                   {"Network.dataset", "MNIST"},
                                                   {"Layers.conv_1.type", "conv"},
                                                   {"Layers.conv_1.out_channels", "15"}};
  EXPECT_EQ(*flat, want);
}

TEST(FlattenConfigTest, RefusesWhatIsNoConfig) {
  EXPECT_THAT(std::string(FlattenConfig("- a\n- b\n").status().message()),
              HasSubstr("no YAML mapping"));
  EXPECT_THAT(std::string(FlattenConfig("Network: [unclosed\n").status().message()),
              HasSubstr("no valid YAML"));
  EXPECT_THAT(std::string(FlattenConfig("Layers:\n  a:\n    b:\n      c:\n        d: 1\n")
                              .status()
                              .message()),
              HasSubstr("Layers.a.b.c: nested deeper than 4 levels"));
  std::string many = "Network:\n";
  for (int i = 0; i < 5000; ++i) many += "  k" + std::to_string(i) + ": 1\n";
  EXPECT_THAT(std::string(FlattenConfig(many).status().message()),
              HasSubstr("more than 4096 keys"));
}

TEST(EpochRecordsTest, ARepeatedEpochReplacesItAndTheLaterOnes) {
  std::vector<v1::EpochMetrics> records;
  const std::pair<int64_t, double> reported[] = {
      {1, 0.1}, {2, 0.2}, {3, 0.3}, {2, 0.25}, {3, 0.5}};  // resumed after epoch 1
  for (const auto& [epoch, accuracy] : reported) {
    v1::EpochMetrics m;
    m.set_epoch(epoch);
    m.set_test_accuracy(accuracy);
    AddEpochRecord(m, &records);
  }
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].epoch(), 2);
  EXPECT_DOUBLE_EQ(records[1].test_accuracy(), 0.25);  // the replayed epoch 2
  v1::Job job;
  job.set_name("jobs/7");
  const nlohmann::json doc = nlohmann::json::parse(EpochsJson(job, records));
  EXPECT_DOUBLE_EQ(doc["best_test_accuracy"].get<double>(), 0.5);
  EXPECT_EQ(doc["best_epoch"], 3);
  EXPECT_EQ(doc["epochs"][2]["epoch"], 3);
  EXPECT_EQ(nlohmann::json::parse(EpochsJson(job, {}))["best_epoch"], nullptr);
}

TEST_F(RunsApiTest, JobDetailHasTheFlattenedConfigAndSeed) {
  fake_.service().SetConfig("jobs/1", "Network:\n  lr: 0.001\n  epochs: 2\n", 42);
  auto [status, doc] = Get("/api/jobs/1");
  ASSERT_EQ(status, 200) << doc.dump();
  EXPECT_EQ(doc["name"], "jobs/1");
  EXPECT_EQ(doc["seed"], 42);  // client::ToJson: 64-bit integers as numbers
  EXPECT_EQ(doc["config_yaml"], "Network:\n  lr: 0.001\n  epochs: 2\n");
  EXPECT_EQ(doc["config"]["Network.lr"], "0.001");
  EXPECT_EQ(doc["config"]["Network.epochs"], "2");
  EXPECT_EQ(doc["config_error"], "");
}

TEST_F(RunsApiTest, EpochsAreNumbersWithTheBestEpoch) {
  auto [status, doc] = Get("/api/jobs/1/epochs");
  ASSERT_EQ(status, 200) << doc.dump();
  EXPECT_EQ(doc["job"], "jobs/1");
  EXPECT_EQ(doc["state"], "SUCCEEDED");
  ASSERT_EQ(doc["epochs"].size(), 2u);
  EXPECT_EQ(doc["epochs"][0]["epoch"], 1);  // a number, not "1"
  EXPECT_EQ(doc["epochs"][1]["epoch"], 2);
  EXPECT_DOUBLE_EQ(doc["epochs"][0]["test_accuracy"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(doc["epochs"][1]["test_loss"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(doc["epochs"][1]["train_loss"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(doc["best_test_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(doc["best_epoch"], 2);
}

TEST_F(RunsApiTest, EpochsOfARunningJobStopAtItsLatestEvent) {
  // jobs/4 is RUNNING: its stream stays open, the answer must not wait for its end.
  auto [status, doc] = Get("/api/jobs/4/epochs");
  ASSERT_EQ(status, 200) << doc.dump();
  EXPECT_EQ(doc["state"], "RUNNING");
  EXPECT_TRUE(doc["epochs"].empty());
  EXPECT_EQ(doc["best_test_accuracy"], nullptr);
  // A job without events (QUEUED) has none.
  auto [queued, none] = Get("/api/jobs/3/epochs");
  EXPECT_EQ(queued, 200);
  EXPECT_TRUE(none["epochs"].empty());
}

TEST_F(RunsApiTest, HostileIdsAreClearErrors) {
  const std::string paths[] = {"/api/jobs/abc",
                               "/api/jobs/abc/epochs",
                               "/api/jobs/-1/epochs",
                               "/api/jobs/1.5",
                               "/api/jobs/99999999999999999999",
                               "/api/jobs/",
                               "/api/jobs/9223372036854775808/epochs",
                               "/api/sweeps/x",
                               "/api/jobs/abc/events"};
  for (const std::string& path : paths) {
    auto [status, doc] = Get(path);
    EXPECT_EQ(status, 400) << path;
    EXPECT_EQ(doc["code"], "INVALID_ARGUMENT") << path;
    EXPECT_THAT(doc["error"].get<std::string>(),
                HasSubstr("expected 1 to 19 decimal digits"))
        << path;
  }
  auto [huge, huge_doc] = Get("/api/jobs/" + std::string(5000, '7'));
  EXPECT_EQ(huge, 400);
  EXPECT_LT(huge_doc["error"].get<std::string>().size(), 200u);  // not echoed whole
  for (const char* path :
       {"/api/jobs/x/delete", "/api/jobs/x/resume", "/api/sweeps/x/cancel",
        "/api/jobs/x/cancel", "/api/jobs/99999999999999999999/delete"}) {
    auto [status, doc] = Post(path);
    EXPECT_EQ(status, 400) << path;
    EXPECT_EQ(doc["code"], "INVALID_ARGUMENT") << path;
  }
}

TEST_F(RunsApiTest, MissingJobsAndSweepsAre404) {
  for (const char* path : {"/api/jobs/77", "/api/jobs/77/epochs", "/api/sweeps/9",
                           "/api/jobs/9223372036854775807"}) {
    auto [status, doc] = Get(path);
    EXPECT_EQ(status, 404) << path;
    EXPECT_EQ(doc["code"], "NOT_FOUND") << path;
  }
  for (const char* path :
       {"/api/jobs/77/delete", "/api/jobs/77/resume", "/api/sweeps/9/cancel"}) {
    auto [status, doc] = Post(path);
    EXPECT_EQ(status, 404) << path;
    EXPECT_EQ(doc["code"], "NOT_FOUND") << path;
  }
}

TEST_F(RunsApiTest, DeleteRefusesARunningJobAndRemovesAnEndedOne) {
  auto [running, refused] = Post("/api/jobs/4/delete");
  EXPECT_EQ(running, 409);
  EXPECT_EQ(refused["code"], "FAILED_PRECONDITION");
  EXPECT_THAT(refused["error"].get<std::string>(), HasSubstr("cancel it first"));
  auto [status, doc] = Post("/api/jobs/2/delete");
  ASSERT_EQ(status, 200) << doc.dump();
  EXPECT_EQ(doc["name"], "jobs/2");
  EXPECT_EQ(doc["freed_bytes"], 4096);
  EXPECT_EQ(fake_.service().job_count(), 4u);
  EXPECT_EQ(Get("/api/jobs/2").first, 404);
  // Without the dashboard's header: refused before anything happens.
  httplib::Result cross =
      dashboard_.Client().Post("/api/jobs/1/delete", "", "text/plain");
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  EXPECT_EQ(fake_.service().job_count(), 4u);
}

TEST_F(RunsApiTest, ResumeQueuesAFailedJobOnly) {
  auto [status, doc] = Post("/api/jobs/2/resume");
  ASSERT_EQ(status, 200) << doc.dump();
  EXPECT_EQ(doc["state"], "QUEUED");
  auto [succeeded, refused] = Post("/api/jobs/1/resume");
  EXPECT_EQ(succeeded, 409);
  EXPECT_THAT(refused["error"].get<std::string>(), HasSubstr("only CANCELLED or FAILED"));
}

TEST_F(RunsApiTest, SweepsListGetAndCancel) {
  auto [listed, list] = Get("/api/sweeps");
  ASSERT_EQ(listed, 200) << list.dump();
  EXPECT_TRUE(list["reachable"].get<bool>());
  ASSERT_EQ(list["sweeps"].size(), 1u);
  EXPECT_EQ(list["sweeps"][0]["name"], "sweeps/1");
  EXPECT_EQ(list["sweeps"][0]["config_yaml"], "");  // left out of the list
  EXPECT_EQ(list["sweeps"][0]["trials"].size(), 2u);

  auto [got, sweep] = Get("/api/sweeps/1");
  ASSERT_EQ(got, 200) << sweep.dump();
  EXPECT_EQ(sweep["state"], "SWEEP_FINISHED");
  EXPECT_EQ(sweep["best_job"], "jobs/1");
  EXPECT_EQ(sweep["trials"][1]["job"], "jobs/5");
  EXPECT_EQ(sweep["trials"][1]["parameters"][0]["key"], "Network.lr");
  EXPECT_EQ(sweep["trials"][1]["parameters"][0]["value"], "0.0005");
  EXPECT_EQ(sweep["config_yaml"], "Network:\n  epochs: 2\n");

  auto [cancelled, after] = Post("/api/sweeps/1/cancel");
  ASSERT_EQ(cancelled, 200) << after.dump();
  EXPECT_EQ(after["state"], "SWEEP_CANCELLED");
}

TEST_F(RunsApiTest, CreateSweepTakesTheRequestAsJson) {
  httplib::Client client = dashboard_.Client();
  httplib::Result r =
      client.Post("/api/sweeps", kPost,
                  R"({"sweep": {"display_name": "lr", "config_yaml": "Network: {}\n",
          "grid": [{"key": "Network.lr", "values": ["1e-3", "5e-4"]}],
          "seeds": ["0", "1"]}, "sampling_seed": "7"})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json sweep = nlohmann::json::parse(r->body);
  EXPECT_EQ(sweep["name"], "sweeps/2");
  EXPECT_EQ(sweep["grid"][0]["values"][1], "5e-4");
  EXPECT_EQ(sweep["seeds"].size(), 2u);

  const std::pair<std::string, std::string> bad[] = {
      {"", "must be a CreateSweepRequest as JSON"},
      {"{not json", "the body is no CreateSweepRequest"},
      {R"({"sweep": {"grid": 5}})", "the body is no CreateSweepRequest"},
      {R"({"nope": 1})", "the body is no CreateSweepRequest"},
      {std::string((1 << 20) + 1, ' '), "at most 1 MiB"}};
  for (const auto& [body, why] : bad) {
    httplib::Result refused = client.Post("/api/sweeps", kPost, body, "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << body.substr(0, 40);
    EXPECT_THAT(refused->body, HasSubstr(why)) << body.substr(0, 40);
  }
  // The server's own refusal comes back with its message.
  httplib::Result empty =
      client.Post("/api/sweeps", kPost, R"({"sweep": {}})", "application/json");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_THAT(empty->body, HasSubstr("sweep.config_yaml: required"));
}

TEST(RunsApiUnreachableTest, EndpointsAnswer503) {
  const std::string address = "127.0.0.1:" + std::to_string(cli::testing::ClosedPort());
  Dashboard dashboard(address);
  httplib::Client client = dashboard.Client();
  for (const char* path : {"/api/jobs/1", "/api/jobs/1/epochs", "/api/sweeps/1"}) {
    httplib::Result r = client.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 503) << path << " " << r->body;
    EXPECT_EQ(nlohmann::json::parse(r->body)["code"], "UNAVAILABLE") << path;
  }
  // The list the page polls answers 200 and says why it is empty.
  httplib::Result list = client.Get("/api/sweeps");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  const nlohmann::json doc = nlohmann::json::parse(list->body);
  EXPECT_FALSE(doc["reachable"].get<bool>());
  EXPECT_THAT(doc["error"].get<std::string>(), HasSubstr("UNAVAILABLE"));
  EXPECT_TRUE(doc["sweeps"].empty());
}

}  // namespace
}  // namespace edbp::dashboard

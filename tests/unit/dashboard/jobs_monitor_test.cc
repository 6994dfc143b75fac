#include "client/dashboard/jobs_monitor.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/client/fake_training_service.h"
#include "tests/unit/dashboard/dashboard_test_util.h"
#include "tests/wait_until.h"

namespace edbp::dashboard {
namespace {

using cli::testing::ClosedPort;
using cli::testing::FakeServer;

// The monitor's snapshot once `done(snapshot)` holds (or, failing the test, the last one
// after 10 s).
nlohmann::json WaitForSnapshot(JobsMonitor& monitor,
                               const std::function<bool(const nlohmann::json&)>& done) {
  nlohmann::json doc;
  const bool reached = edbp::testing::WaitUntil(
      [&] { return done(doc = nlohmann::json::parse(monitor.SnapshotJson())); },
      std::chrono::seconds(10));
  EXPECT_TRUE(reached) << "the awaited snapshot never came: " << doc.dump();
  return doc;
}

// The snapshot once `min_polls` polls have finished.
nlohmann::json WaitForSnapshot(JobsMonitor& monitor, int min_polls) {
  return WaitForSnapshot(monitor, [&](const nlohmann::json& doc) {
    return doc["polls"].get<int64_t>() >= min_polls;
  });
}

TEST(JobsMonitorTest, ListsJobsWithTheProgressOfRunningOnes) {
  FakeServer server;
  // jobs/4 is RUNNING; its latest event is a progress record.
  v1::Event running;
  running.set_job("jobs/4");
  running.set_sequence(1);
  running.mutable_state_change()->set_state(v1::RUNNING);
  v1::Event progress;
  progress.set_job("jobs/4");
  progress.set_sequence(2);
  progress.mutable_progress()->set_epoch(2);
  progress.mutable_progress()->set_batch(30);
  progress.mutable_progress()->set_batches(60);
  server.service().SetScript("jobs/4", {running, progress});
  auto stub = v1::TrainingService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  JobsMonitor monitor(stub.get(), absl::Milliseconds(20), absl::Seconds(5),
                      testing::FastBackoff());

  // The progress of jobs/4 comes from a WatchJob of its own, after the listing.
  const nlohmann::json doc = WaitForSnapshot(monitor, [](const nlohmann::json& d) {
    return d["polls"].get<int64_t>() >= 1 && d["jobs"].size() == 5 &&
           !d["jobs"][1]["progress"].is_null();
  });
  EXPECT_TRUE(doc["reachable"].get<bool>());
  EXPECT_EQ(doc["error"], "");
  ASSERT_EQ(doc["jobs"].size(), 5u) << doc.dump();
  // Newest first, as the server lists them.
  EXPECT_EQ(doc["jobs"][0]["name"], "jobs/5");
  const nlohmann::json& live = doc["jobs"][1];
  EXPECT_EQ(live["name"], "jobs/4");
  EXPECT_EQ(live["state"], "RUNNING");
  ASSERT_FALSE(live["progress"].is_null()) << doc.dump();
  EXPECT_EQ(live["progress"]["batch"], 30);  // int64 as a number (client::ToJson)
  // One record only: the pace (and so the ETA) is not known yet.
  EXPECT_TRUE(live["eta_seconds"].is_null());
  // Jobs that do not run have no progress.
  EXPECT_TRUE(doc["jobs"][0]["progress"].is_null());
  EXPECT_EQ(doc["jobs"][4]["display_name"], "mnist");
  EXPECT_EQ(doc["jobs"][4]["config_yaml"], "");  // left out of the table
}

// The table's time left is the job view's (client/common/job_eta.h), from the whole
// history: epochs 1 and 2 took 10 s and 14 s (pace 12 s); at batch 15 of 60 of epoch
// 3 of 5 the job has (5 - 3 + 45/60) × 12 = 33 s left. The stream starts at the job's
// first event, so the epochs before the monitor saw the job count too.
TEST(JobsMonitorTest, TimeLeftFollowsTheJobViewsRule) {
  FakeServer server;
  std::vector<v1::Event> script;
  auto add = [&](v1::Event e) {
    e.set_job("jobs/4");
    e.set_sequence(static_cast<int64_t>(script.size()) + 1);
    script.push_back(std::move(e));
  };
  v1::Event running;
  running.mutable_state_change()->set_state(v1::RUNNING);
  add(running);
  for (const double seconds : {10.0, 14.0}) {
    v1::Event epoch;
    epoch.mutable_epoch_metrics()->set_epoch(static_cast<int64_t>(script.size()));
    epoch.mutable_epoch_metrics()->set_epochs(5);
    epoch.mutable_epoch_metrics()->set_seconds(seconds);
    add(epoch);
  }
  v1::Event progress;
  progress.mutable_progress()->set_epoch(3);
  progress.mutable_progress()->set_epochs(5);
  progress.mutable_progress()->set_batch(15);
  progress.mutable_progress()->set_batches(60);
  progress.mutable_progress()->set_eta_seconds(7);
  add(progress);
  server.service().SetScript("jobs/4", script);
  auto stub = v1::TrainingService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  JobsMonitor monitor(stub.get(), absl::Milliseconds(20), absl::Seconds(5),
                      testing::FastBackoff());
  const nlohmann::json doc = WaitForSnapshot(monitor, [](const nlohmann::json& d) {
    return d["jobs"].size() == 5 && !d["jobs"][1]["eta_seconds"].is_null();
  });
  ASSERT_EQ(doc["jobs"].size(), 5u) << doc.dump();
  EXPECT_EQ(doc["jobs"][1]["name"], "jobs/4");
  EXPECT_NEAR(doc["jobs"][1]["eta_seconds"].get<double>(), 33.0, 1e-9) << doc.dump();
  EXPECT_TRUE(doc["jobs"][0]["eta_seconds"].is_null());  // not running
}

TEST(JobsMonitorTest, ReportsAnUnreachableServerAndKeepsPolling) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  auto stub = v1::TrainingService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  JobsMonitor monitor(stub.get(), absl::Milliseconds(20), absl::Seconds(2),
                      testing::FastBackoff());
  const nlohmann::json doc = WaitForSnapshot(monitor, 2);
  EXPECT_FALSE(doc["reachable"].get<bool>());
  EXPECT_EQ(doc["error"].get<std::string>().rfind("UNAVAILABLE", 0), 0u) << doc.dump();
  EXPECT_TRUE(doc["jobs"].empty());
}

}  // namespace
}  // namespace edbp::dashboard

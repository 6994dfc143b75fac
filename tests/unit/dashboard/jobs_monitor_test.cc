#include "client/dashboard/jobs_monitor.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/client/fake_training_service.h"
#include "tests/unit/dashboard/dashboard_test_util.h"
#include "tests/wait_until.h"

namespace edbp::dashboard {
namespace {

using cli::testing::ClosedPort;
using cli::testing::FakeServer;

TEST(ProgressFractionTest, CountsFinishedEpochsAndBatches) {
  v1::Progress p;
  p.set_epoch(3);
  p.set_batch(25);
  p.set_batches(100);
  EXPECT_DOUBLE_EQ(ProgressFraction(p, 10), 0.225);
  EXPECT_DOUBLE_EQ(ProgressFraction(p, 0), 0.0);
  p.set_batches(0);  // unknown: the epoch's start
  EXPECT_DOUBLE_EQ(ProgressFraction(p, 10), 0.2);
  p.set_epoch(12);  // more than the run (a changed config): clamped
  EXPECT_DOUBLE_EQ(ProgressFraction(p, 10), 1.0);
  // Issue 19: the test pass counts as its epoch's end, whatever its batch.
  p.set_epoch(3);
  p.set_batches(4);
  p.set_batch(1);
  p.set_phase(v1::Progress::TEST);
  EXPECT_DOUBLE_EQ(ProgressFraction(p, 10), 0.3);
}

TEST(EstimateRemainingSecondsTest, ExtrapolatesThePaceSinceTheFirstRecord) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  // 10% -> 30% in 20 s: 70% left takes 70 s; 5 s have passed since the last record.
  const std::optional<double> eta = EstimateRemainingSeconds(
      0.1, t0, 0.3, t0 + absl::Seconds(20), t0 + absl::Seconds(25));
  ASSERT_TRUE(eta.has_value());
  EXPECT_NEAR(*eta, 65.0, 1e-9);
  // Not moved yet, or no time passed: unknown.
  EXPECT_FALSE(
      EstimateRemainingSeconds(0.3, t0, 0.3, t0 + absl::Seconds(9), t0).has_value());
  EXPECT_FALSE(EstimateRemainingSeconds(0.1, t0, 0.3, t0, t0).has_value());
  // Overdue: never negative.
  EXPECT_EQ(EstimateRemainingSeconds(0.0, t0, 0.5, t0 + absl::Seconds(10),
                                     t0 + absl::Seconds(100)),
            0.0);
}

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

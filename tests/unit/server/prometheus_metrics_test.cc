// The /metrics text: parsed as the Prometheus text format (version 0.0.4), from the
// serializer and over HTTP from the /metrics server.
#include "server/prometheus_metrics.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A parsed exposition: samples by "name{labels}" (labels as written, sorted by the
// serializer) and the TYPE of every family.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
};

// Parses the text format strictly: every line is a comment (# HELP / # TYPE) or
// "name[{labels}] value"; anything else fails the test.
Exposition Parse(const std::string& text) {
  Exposition e;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      EXPECT_EQ(parts.size(), 2u) << line;
      if (parts.size() == 2) e.types[parts[0]] = parts[1];
      continue;
    }
    if (absl::StartsWith(line, "# HELP ")) continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, line.npos) << line;
    if (space == line.npos) continue;
    const std::string key(line.substr(0, space));
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
    const size_t brace = key.find('{');
    EXPECT_TRUE(brace == key.npos || key.back() == '}') << line;
    EXPECT_EQ(e.samples.count(key), 0u) << "duplicate sample " << key;
    e.samples[key] = value;
  }
  return e;
}

class ServerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edbp-prom-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = JobStore::Open((dir_ / "edbp.sqlite").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void AddJob(v1::JobState state, const std::string& device = "") {
    v1::Job job;
    job.set_state(state);
    job.set_device(device);
    ASSERT_TRUE(store_->CreateJob(job, "").ok());
  }

  fs::path dir_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(ServerMetricsTest, JobsQueueDevicesAndCounters) {
  AddJob(v1::QUEUED);
  AddJob(v1::QUEUED);
  AddJob(v1::QUEUED);
  AddJob(v1::RUNNING, "cuda:1");
  AddJob(v1::SUCCEEDED);
  AddJob(v1::FAILED);
  AddJob(v1::SUCCEEDED);
  ServerMetrics metrics(store_.get(), {"cuda:0", "cuda:1"});
  metrics.OnWatcherStarted();
  metrics.OnWatcherStarted();
  metrics.OnWatcherEnded();
  for (int i = 0; i < 5; ++i) metrics.OnEventStreamed();
  metrics.OnEpochSeconds(3);
  metrics.OnEpochSeconds(40);

  const Exposition e = Parse(metrics.Text());
  EXPECT_EQ(e.samples.at("edbp_jobs{state=\"queued\"}"), 3);
  EXPECT_EQ(e.samples.at("edbp_jobs{state=\"running\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_jobs{state=\"succeeded\"}"), 2);
  EXPECT_EQ(e.samples.at("edbp_jobs{state=\"failed\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_jobs{state=\"cancelled\"}"), 0);
  EXPECT_EQ(e.samples.at("edbp_queue_depth"), 3);
  EXPECT_EQ(e.samples.at("edbp_device_utilization{device=\"cuda:0\"}"), 0);
  EXPECT_EQ(e.samples.at("edbp_device_utilization{device=\"cuda:1\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_watchers"), 1);
  EXPECT_EQ(e.samples.at("edbp_events_streamed_total"), 5);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_count"), 2);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_sum"), 43);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_bucket{le=\"1\"}"), 0);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_bucket{le=\"5\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_bucket{le=\"30\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_bucket{le=\"60\"}"), 2);
  EXPECT_EQ(e.samples.at("edbp_epoch_seconds_bucket{le=\"+Inf\"}"), 2);
  EXPECT_EQ(e.types.at("edbp_jobs"), "gauge");
  EXPECT_EQ(e.types.at("edbp_queue_depth"), "gauge");
  EXPECT_EQ(e.types.at("edbp_device_utilization"), "gauge");
  EXPECT_EQ(e.types.at("edbp_watchers"), "gauge");
  EXPECT_EQ(e.types.at("edbp_events_streamed_total"), "counter");
  EXPECT_EQ(e.types.at("edbp_epoch_seconds"), "histogram");
}

TEST_F(ServerMetricsTest, ServedOverHttp) {
  AddJob(v1::RUNNING, "cpu:0");
  ServerMetrics metrics(store_.get(), {"cpu:0"});
  auto port = metrics.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_GT(*port, 0);
  metrics.OnEventStreamed();
  const std::string response =
      testing::HttpGet("127.0.0.1:" + std::to_string(*port), "/metrics");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  const size_t body = response.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  const Exposition e = Parse(response.substr(body + 4));
  EXPECT_EQ(e.samples.at("edbp_jobs{state=\"running\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_device_utilization{device=\"cpu:0\"}"), 1);
  EXPECT_EQ(e.samples.at("edbp_events_streamed_total"), 1);
}

TEST_F(ServerMetricsTest, ListenErrorNamesTheFlag) {
  ServerMetrics first(store_.get(), {});
  auto port = first.Listen("127.0.0.1:0");
  ASSERT_TRUE(port.ok());
  ServerMetrics second(store_.get(), {});
  const std::string taken = "127.0.0.1:" + std::to_string(*port);
  auto again = second.Listen(taken);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(again.status().message(), HasSubstr("--metrics-listen " + taken));
}

TEST_F(ServerMetricsTest, MalformedAddressNamesTheFlag) {
  for (const std::string address :
       {"9090", ":9090", "127.0.0.1:http", "127.0.0.1:70000"}) {
    ServerMetrics metrics(store_.get(), {});
    auto port = metrics.Listen(address);
    EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(port.status().message(),
                HasSubstr("--metrics-listen " + address + ": expected HOST:PORT"));
  }
}

}  // namespace
}  // namespace edbp::server

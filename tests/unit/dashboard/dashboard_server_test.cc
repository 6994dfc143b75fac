#include "client/dashboard/dashboard_server.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/unit/client/fake_training_service.h"
#include "tests/unit/dashboard/dashboard_fixture.h"
#include "tests/unit/dashboard/dashboard_test_util.h"
#include "tests/wait_until.h"

namespace edbp::dashboard {
namespace {

using cli::testing::ClosedPort;
using cli::testing::FakeServer;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::Dashboard;
using testing::kAssets;

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

class DashboardServerTest : public ::testing::Test {
 protected:
  FakeServer fake_;
  Dashboard dashboard_{fake_.address()};
};

TEST_F(DashboardServerTest, ServesThePageAndItsAssets) {
  httplib::Client client = dashboard_.Client();
  httplib::Result root = client.Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->body, "<p>the page</p>");
  EXPECT_EQ(root->get_header_value("Content-Type"), "text/html; charset=utf-8");
  httplib::Result js = client.Get("/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->body, "start();");
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  httplib::Result missing = client.Get("/nope.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("no such page: /nope.js"));
}

TEST_F(DashboardServerTest, InfoNamesTheServer) {
  httplib::Result info = dashboard_.Client().Get("/api/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(nlohmann::json::parse(info->body)["server"], fake_.address());
}

TEST_F(DashboardServerTest, JobsListsTheServersJobs) {
  const nlohmann::json doc = dashboard_.WaitForFirstPoll();
  EXPECT_TRUE(doc["reachable"].get<bool>());
  ASSERT_EQ(doc["jobs"].size(), 5u);
  EXPECT_EQ(doc["jobs"][4]["name"], "jobs/1");
  EXPECT_EQ(doc["jobs"][4]["state"], "SUCCEEDED");
  EXPECT_EQ(doc["jobs"][4]["best_test_accuracy"], 0.9);
}

TEST_F(DashboardServerTest, SubmitCreatesAJob) {
  httplib::Client client = dashboard_.Client();
  httplib::Result r = client.Post("/api/jobs?name=tiny&priority=3",
                                  {{"X-Edbp-Dashboard", "1"}, {"X-Request-Id", "r-1"}},
                                  "Network:\n  epochs: 2\n", "application/x-yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const nlohmann::json job = nlohmann::json::parse(r->body);
  EXPECT_EQ(job["name"], "jobs/6");
  EXPECT_EQ(job["state"], "QUEUED");
  const std::vector<v1::CreateJobRequest> requests = fake_.service().create_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].display_name(), "tiny");
  EXPECT_EQ(requests[0].priority(), 3);
  EXPECT_EQ(requests[0].request_id(), "r-1");
  EXPECT_EQ(requests[0].config_yaml(), "Network:\n  epochs: 2\n");
}

TEST_F(DashboardServerTest, SubmitWithoutRequestIdGetsAFreshOne) {
  httplib::Client client = dashboard_.Client();
  for (int i = 0; i < 2; ++i) {
    httplib::Result r = client.Post("/api/jobs", {{"X-Edbp-Dashboard", "1"}},
                                    "Network:\n  epochs: 2\n", "application/x-yaml");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  const std::vector<v1::CreateJobRequest> requests = fake_.service().create_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_FALSE(requests[0].request_id().empty());
  EXPECT_NE(requests[0].request_id(), requests[1].request_id());
  EXPECT_EQ(fake_.service().job_count(), 7u);
}

TEST_F(DashboardServerTest, AnInvalidConfigAnswers400WithEveryError) {
  httplib::Result r = dashboard_.Client().Post("/api/jobs", {{"X-Edbp-Dashboard", "1"}},
                                               "bad config", "application/x-yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  const nlohmann::json doc = nlohmann::json::parse(r->body);
  EXPECT_EQ(doc["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(doc["error"].get<std::string>(), HasSubstr(cli::testing::kBadConfigLine1));
  EXPECT_THAT(doc["error"].get<std::string>(), HasSubstr(cli::testing::kBadConfigLine2));
}

TEST_F(DashboardServerTest, SubmitRejectsAnEmptyBodyAndABadPriority) {
  httplib::Client client = dashboard_.Client();
  httplib::Result empty =
      client.Post("/api/jobs", {{"X-Edbp-Dashboard", "1"}}, "", "application/x-yaml");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_THAT(empty->body, HasSubstr("the request body must be the config YAML"));
  httplib::Result priority =
      client.Post("/api/jobs?priority=high", {{"X-Edbp-Dashboard", "1"}}, "Network: {}\n",
                  "application/x-yaml");
  ASSERT_TRUE(priority);
  EXPECT_EQ(priority->status, 400);
  EXPECT_THAT(priority->body, HasSubstr("priority must be an integer, not 'high'"));
  httplib::Result huge =
      client.Post("/api/jobs", {{"X-Edbp-Dashboard", "1"}},
                  std::string((1 << 20) + 1, '#'), "application/x-yaml");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 400);
  EXPECT_THAT(huge->body, HasSubstr("larger than 1 MiB"));
  EXPECT_TRUE(fake_.service().create_requests().empty());
}

TEST_F(DashboardServerTest, CancelMapsTheServersAnswers) {
  httplib::Client client = dashboard_.Client();
  httplib::Result ok =
      client.Post("/api/jobs/3/cancel", {{"X-Edbp-Dashboard", "1"}}, "", "text/plain");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(nlohmann::json::parse(ok->body)["state"], "CANCELLED");
  httplib::Result ended =
      client.Post("/api/jobs/1/cancel", {{"X-Edbp-Dashboard", "1"}}, "", "text/plain");
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->status, 409);
  EXPECT_EQ(nlohmann::json::parse(ended->body)["code"], "FAILED_PRECONDITION");
  httplib::Result unknown =
      client.Post("/api/jobs/77/cancel", {{"X-Edbp-Dashboard", "1"}}, "", "text/plain");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("jobs/77"));
}

TEST_F(DashboardServerTest, RefusesCrossSiteRequests) {
  httplib::Client client = dashboard_.Client();
  // No X-Edbp-Dashboard header: what a form on another web site would send.
  httplib::Result post = client.Post("/api/jobs/3/cancel", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 403);
  EXPECT_THAT(post->body, HasSubstr("X-Edbp-Dashboard"));
  // A foreign host name (DNS rebinding) on a loopback dashboard.
  httplib::Result rebound = client.Get("/api/jobs", {{"Host", "evil.example:8080"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  EXPECT_THAT(rebound->body, HasSubstr("loopback host"));
  httplib::Result localhost = client.Get("/api/info", {{"Host", "localhost:8080"}});
  ASSERT_TRUE(localhost);
  EXPECT_EQ(localhost->status, 200);
  // The refused cancel did nothing: the job can still be cancelled.
  httplib::Result cancel =
      client.Post("/api/jobs/3/cancel", {{"X-Edbp-Dashboard", "1"}}, "", "text/plain");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 200) << cancel->body;
}

TEST_F(DashboardServerTest, EventsReplayTheHistoryThenEnd) {
  const std::string body = dashboard_.ReadEvents(
      "/api/jobs/1/events", {}, [](const std::string&) { return false; });
  EXPECT_EQ(body.rfind("retry: 2000\n\n", 0), 0u);
  EXPECT_EQ(Count(body, "event: edbp\n"), 11u);
  EXPECT_THAT(body,
              HasSubstr("id: 1\nevent: edbp\ndata: {\"job\":\"jobs/1\",\"sequence\":1,"));
  EXPECT_THAT(body, HasSubstr("id: 11\n"));
  // 64-bit integers as JSON numbers (client::ToJson), the vocabulary's names.
  EXPECT_THAT(body, HasSubstr("\"epoch_metrics\":{\"epoch\":1,\"epochs\":2,"));
  EXPECT_THAT(body, HasSubstr("\"learning_rate\":0.001,"));
  EXPECT_TRUE(absl::EndsWith(body, "event: end\ndata: {}\n\n")) << body;
}

TEST_F(DashboardServerTest, EventsResumeAfterLastEventId) {
  const std::string body =
      dashboard_.ReadEvents("/api/jobs/1/events?from=1", {{"Last-Event-ID", "8"}},
                            [](const std::string&) { return false; });
  EXPECT_EQ(Count(body, "event: edbp\n"), 3u);
  EXPECT_THAT(body, HasSubstr("id: 9\n"));
  EXPECT_THAT(body, Not(HasSubstr("id: 8\n")));
  const std::string from = dashboard_.ReadEvents(
      "/api/jobs/1/events?from=10", {}, [](const std::string&) { return false; });
  EXPECT_EQ(Count(from, "event: edbp\n"), 2u);
}

TEST_F(DashboardServerTest, EventsOfAnUnknownJobEndWithAFailure) {
  const std::string body = dashboard_.ReadEvents(
      "/api/jobs/99/events", {}, [](const std::string&) { return false; });
  EXPECT_THAT(body, HasSubstr("event: failure\ndata: {\"error\":\"NOT_FOUND"));
  EXPECT_EQ(Count(body, "event: edbp"), 0u);
}

TEST_F(DashboardServerTest, EventsRejectABadFrom) {
  httplib::Result r = dashboard_.Client().Get("/api/jobs/1/events?from=0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("from must be a sequence number >= 1, not '0'"));
}

TEST_F(DashboardServerTest, ALiveStreamStaysOpenWithKeepalivesAndStopEndsIt) {
  // jobs/4 is RUNNING: its stream never ends by itself.
  const absl::Time start = absl::Now();
  const std::string body = dashboard_.ReadEvents(
      "/api/jobs/4/events", {},
      [](const std::string& b) { return absl::StrContains(b, ": keepalive"); });
  EXPECT_EQ(Count(body, "event: edbp\n"), 4u);
  EXPECT_THAT(body, Not(HasSubstr("event: end")));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
}

TEST(DashboardServerUnreachableTest, ReportsTheServerUnreachable) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  Dashboard dashboard(address);
  const std::string body = dashboard.ReadEvents(
      "/api/jobs/1/events", {},
      [](const std::string& b) { return absl::StrContains(b, "event: status"); });
  EXPECT_THAT(body, HasSubstr("event: status\ndata: {\"error\":\"UNAVAILABLE"));
  EXPECT_THAT(body, HasSubstr("\"reachable\":false"));

  httplib::Client client = dashboard.Client();
  const nlohmann::json doc = dashboard.WaitForFirstPoll();
  EXPECT_FALSE(doc["reachable"].get<bool>());
  EXPECT_THAT(doc["error"].get<std::string>(), HasSubstr("UNAVAILABLE"));
  httplib::Result submit = client.Post("/api/jobs", {{"X-Edbp-Dashboard", "1"}},
                                       "Network: {}\n", "application/x-yaml");
  ASSERT_TRUE(submit);
  EXPECT_EQ(submit->status, 503);
  EXPECT_EQ(nlohmann::json::parse(submit->body)["code"], "UNAVAILABLE");
}

TEST(DashboardServerListenTest, APortInUseIsAClearError) {
  testing::BusyPort busy;
  DashboardServer server(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), kAssets,
      DashboardOptions{});
  const absl::Status s = server.Listen({"127.0.0.1", busy.port(), true});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.message()),
            absl::StrCat("cannot listen on 127.0.0.1:", busy.port(),
                         ": Address already in use"));
  server.Serve();  // returns at once: nothing is bound
}

TEST(DashboardServerListenTest, AnAddressOfNoInterfaceIsAClearError) {
  DashboardServer server(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), kAssets,
      DashboardOptions{});
  // TEST-NET-1 (RFC 5737): assigned to no interface of this machine.
  const absl::Status s = server.Listen({"192.0.2.1", 0, false});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("cannot listen on 192.0.2.1:0: Cannot assign requested address"));
}

}  // namespace
}  // namespace edbp::dashboard

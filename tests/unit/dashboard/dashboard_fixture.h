// A DashboardServer served on a thread for the dashboard's HTTP tests, and its client.
#ifndef EDBP_TESTS_UNIT_DASHBOARD_DASHBOARD_FIXTURE_H_
#define EDBP_TESTS_UNIT_DASHBOARD_DASHBOARD_FIXTURE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "client/dashboard/dashboard_server.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/unit/dashboard/dashboard_test_util.h"
#include "tests/wait_until.h"

namespace edbp::dashboard::testing {

inline const Asset kAssets[] = {
    {"/index.html", "text/html; charset=utf-8", "<p>the page</p>"},
    {"/app.js", "text/javascript; charset=utf-8", "start();"},
};

// A DashboardServer on 127.0.0.1:<free port> over edbp-server at `address`, served
// on a thread until destruction (`train_program`: DashboardOptions::train_program).
class Dashboard {
 public:
  explicit Dashboard(const std::string& address, const std::string& train_program = "") {
    DashboardOptions options;
    options.train_program = train_program;
    options.server_address = address;
    options.rpc_timeout = absl::Seconds(3);
    options.poll_interval = absl::Milliseconds(20);
    options.backoff = FastBackoff();
    options.keepalive = absl::Milliseconds(200);
    server_ = std::make_unique<DashboardServer>(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), kAssets,
        options);
    const absl::Status listening = server_->Listen({"127.0.0.1", 0, true});
    EXPECT_TRUE(listening.ok()) << listening;
    thread_ = std::thread([this] { server_->Serve(); });
  }
  ~Dashboard() {
    server_->Stop();
    thread_.join();
  }

  DashboardServer& server() { return *server_; }
  httplib::Client Client() {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(10, 0);
    return client;
  }
  // GET /api/jobs once the monitor has finished its first poll of edbp-server (every
  // answer must be a 200 with a JSON body; 10 s at most, else the test fails).
  nlohmann::json WaitForFirstPoll() {
    httplib::Client client = Client();
    nlohmann::json doc;
    const bool polled = edbp::testing::WaitUntil(
        [&] {
          httplib::Result jobs = client.Get("/api/jobs");
          if (!jobs || jobs->status != 200) {
            ADD_FAILURE() << "GET /api/jobs: "
                          << (jobs ? std::to_string(jobs->status) : "no answer");
            return true;  // nothing to wait for: the dashboard listens before it is built
          }
          doc = nlohmann::json::parse(jobs->body);
          return doc["polls"].get<int>() > 0;
        },
        std::chrono::seconds(10));
    EXPECT_TRUE(polled) << "no poll finished: " << doc.dump();
    return doc;
  }

  // The body of an event stream until it ends or `done(body)` says so.
  std::string ReadEvents(const std::string& path, const httplib::Headers& headers,
                         const std::function<bool(const std::string&)>& done) {
    httplib::Client client = Client();
    std::string body;
    client.Get(path.c_str(), headers, [&](const char* data, size_t length) {
      body.append(data, length);
      return !done(body);
    });
    return body;
  }

 private:
  std::unique_ptr<DashboardServer> server_;
  std::thread thread_;
};

}  // namespace edbp::dashboard::testing

#endif  // EDBP_TESTS_UNIT_DASHBOARD_DASHBOARD_FIXTURE_H_

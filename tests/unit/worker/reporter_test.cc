#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/unit/worker/sample_records.h"
#include "worker/worker_reporter.h"

namespace edbp::worker {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::SampleCheckpoint;
using testing::SampleCheckpointProto;
using testing::SampleEpoch;
using testing::SampleEpochProto;
using testing::SampleProgress;
using testing::SampleProgressProto;

// Records every request; answers UNAVAILABLE `unavailable` times, then `status`.
class FakeWorkerService final : public v1::WorkerService::Service {
 public:
  grpc::Status Report(grpc::ServerContext* /*context*/, const v1::ReportRequest* request,
                      v1::ReportResponse* /*response*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(*request);
    if (unavailable_ > 0) {
      --unavailable_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not yet");
    }
    return status_;
  }
  void set_unavailable(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    unavailable_ = n;
  }
  void set_status(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
  }
  std::vector<v1::ReportRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<v1::ReportRequest> requests_;
  int unavailable_ = 0;
  grpc::Status status_;
};

class ReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // Short: a Unix socket path has at most 107 characters.
    dir_ = std::filesystem::path("/tmp") /
           ("edbp_rep_" + std::to_string(getpid()) + "_" + info->name());
    std::filesystem::create_directories(dir_);
    address_ = "unix:" + (dir_ / "w.sock").string();
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::string address_;
  FakeWorkerService service_;
  std::unique_ptr<grpc::Server> server_;
};

void ExpectProtoEq(const google::protobuf::Message& actual,
                   const google::protobuf::Message& expected) {
  EXPECT_TRUE(MessageDifferencer::Equals(actual, expected))
      << "actual:\n"
      << actual.DebugString() << "expected:\n"
      << expected.DebugString();
}

TEST_F(ReporterTest, SendsEveryRecordInOrderWithEveryField) {
  WorkerReporter reporter(address_, "job42");
  ::testing::internal::CaptureStderr();
  reporter.OnProgress(SampleProgress());
  reporter.OnEpoch(SampleEpoch());
  reporter.OnCheckpoint(SampleCheckpoint());
  reporter.Log(v1::LogLine::WARNING, "low firing rate");
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), IsEmpty());

  std::vector<v1::ReportRequest> got = service_.requests();
  ASSERT_EQ(got.size(), 4u);
  std::vector<v1::Event> expected(4);
  *expected[0].mutable_progress() = SampleProgressProto();
  *expected[1].mutable_epoch_metrics() = SampleEpochProto();
  *expected[2].mutable_checkpoint_saved() = SampleCheckpointProto();
  expected[3].mutable_log()->set_level(v1::LogLine::WARNING);
  expected[3].mutable_log()->set_text("low firing rate");
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].job_id(), "job42");
    expected[i].set_job("jobs/job42");
    ExpectProtoEq(got[i].event(), expected[i]);
  }
}

TEST_F(ReporterTest, ToProtoMapsEpochMetrics) {
  ExpectProtoEq(ToProto(SampleEpoch()), SampleEpochProto());
}

TEST_F(ReporterTest, RetriesWhileUnavailable) {
  service_.set_unavailable(2);
  WorkerReporter reporter(address_, "j");
  ::testing::internal::CaptureStderr();
  reporter.OnCheckpoint({.epoch = 1, .kind = "last", .path = ""});
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), IsEmpty());
  ASSERT_EQ(service_.requests().size(), 3u);  // 2 refused, the third accepted
}

TEST_F(ReporterTest, DropsTheRecordAfterThreeTries) {
  service_.set_unavailable(100);
  WorkerReporter reporter(address_, "j");
  ::testing::internal::CaptureStderr();
  reporter.OnCheckpoint({.epoch = 1, .kind = "last", .path = ""});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(service_.requests().size(), 3u);
  EXPECT_THAT(err, HasSubstr("checkpoint event dropped"));
  EXPECT_THAT(err, HasSubstr("UNAVAILABLE"));
}

TEST_F(ReporterTest, DoesNotRetryOtherErrors) {
  service_.set_status(grpc::Status(grpc::StatusCode::NOT_FOUND, "job j is not running"));
  WorkerReporter reporter(address_, "j");
  ::testing::internal::CaptureStderr();
  reporter.Log(v1::LogLine::INFO, "hello");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(service_.requests().size(), 1u);
  EXPECT_THAT(err, HasSubstr("log line event dropped"));
  EXPECT_THAT(err, HasSubstr("NOT_FOUND: job j is not running"));
}

TEST_F(ReporterTest, UnreachableServerDropsTheRecordQuickly) {
  const std::string nobody = "unix:" + (dir_ / "nobody.sock").string();
  WorkerReporter reporter(nobody, "j", std::chrono::milliseconds(500));
  ::testing::internal::CaptureStderr();
  const auto start = std::chrono::steady_clock::now();
  reporter.OnEpoch(SampleEpoch());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_LT(elapsed, std::chrono::seconds(20));
  EXPECT_THAT(err, HasSubstr("epoch metrics event dropped"));
  EXPECT_THAT(err, HasSubstr(nobody));
  EXPECT_TRUE(service_.requests().empty());
}

}  // namespace
}  // namespace edbp::worker

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
#include "tests/temp_dir.h"
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
  WorkerReporter reporter(address_, "job42", /*attempt=*/5);
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
    EXPECT_EQ(got[i].attempt(), 5);
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
  WorkerReporter reporter(nobody, "j", 0, std::chrono::milliseconds(500));
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

// The log texts the service received, in order.
std::vector<std::string> Texts(const std::vector<v1::ReportRequest>& requests) {
  std::vector<std::string> texts;
  texts.reserve(requests.size());
  for (const v1::ReportRequest& r : requests) texts.push_back(r.event().log().text());
  return texts;
}

TEST_F(ReporterTest, TheSpoolKeepsWhatTheServerMissedAndDeliversItInOrder) {
  WorkerReporter reporter(address_, "j", /*attempt=*/1);
  ASSERT_TRUE(reporter.AttachSpool(dir_ / kSpoolFile).ok());
  service_.set_unavailable(3);  // the three tries of "a"
  ::testing::internal::CaptureStderr();
  reporter.Log(v1::LogLine::INFO, "a");
  reporter.Log(v1::LogLine::INFO, "b");  // queued behind "a": order is kept
  EXPECT_EQ(reporter.Flush(std::chrono::seconds(10)), 0u);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), IsEmpty());  // nothing dropped
  const std::vector<std::string> texts = Texts(service_.requests());
  EXPECT_EQ(texts, (std::vector<std::string>{"a", "a", "a", "a", "b"}));
  reporter.Log(v1::LogLine::INFO, "c");  // the spool is empty: straight to the server
  EXPECT_EQ(Texts(service_.requests()).back(), "c");
  EXPECT_EQ(std::filesystem::file_size(dir_ / kSpoolFile), 16u);
}

TEST_F(ReporterTest, AFencedProcessSpoolsEverythingAndStopsOnce) {
  service_.set_status(grpc::Status(grpc::StatusCode::ABORTED, "job j runs attempt 3"));
  WorkerReporter reporter(address_, "j", /*attempt=*/2);
  ASSERT_TRUE(reporter.AttachSpool(dir_ / kSpoolFile).ok());
  int fenced = 0;
  reporter.set_on_fenced([&] { ++fenced; });
  ::testing::internal::CaptureStderr();
  for (const char* text : {"a", "b", "c"}) reporter.Log(v1::LogLine::INFO, text);
  EXPECT_GT(reporter.Flush(std::chrono::seconds(2)), 0u);  // a fenced process keeps it
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("refused attempt 2 of job j"));
  EXPECT_EQ(fenced, 1);
  EXPECT_EQ(Texts(service_.requests()), (std::vector<std::string>{"a"}));  // one try
  absl::StatusOr<ReportSpool> spool = ReportSpool::Open(dir_ / kSpoolFile);
  ASSERT_TRUE(spool.ok());
  absl::StatusOr<std::vector<ReportSpool::Entry>> kept = spool->ReadPending(10);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 3u);
  EXPECT_EQ(kept->at(0).request.event().log().text(), "a");
  EXPECT_EQ(kept->at(2).request.event().log().text(), "c");
  EXPECT_EQ(kept->at(2).request.attempt(), 2);
}

TEST_F(ReporterTest, TheNextProcessDeliversAnEarlierSpoolFirstUnderItsAttempt) {
  {
    absl::StatusOr<ReportSpool> spool = ReportSpool::Open(dir_ / kSpoolFile);
    ASSERT_TRUE(spool.ok());
    for (const char* text : {"old 1", "old 2"}) {
      v1::ReportRequest r;
      r.set_job_id("j");
      r.set_attempt(1);
      r.mutable_event()->mutable_log()->set_text(text);
      ASSERT_TRUE(spool->Append(r).ok());
    }
    v1::ReportRequest other;  // another job's report has no place here: skipped
    other.set_job_id("k");
    other.mutable_event()->mutable_log()->set_text("other");
    ASSERT_TRUE(spool->Append(other).ok());
  }
  WorkerReporter reporter(address_, "j", /*attempt=*/2);
  ASSERT_TRUE(reporter.AttachSpool(dir_ / kSpoolFile).ok());
  reporter.Log(v1::LogLine::INFO, "new");
  const std::vector<v1::ReportRequest> got = service_.requests();
  EXPECT_EQ(Texts(got), (std::vector<std::string>{"old 1", "old 2", "new"}));
  for (const v1::ReportRequest& r : got) EXPECT_EQ(r.attempt(), 2);
  EXPECT_EQ(std::filesystem::file_size(dir_ / kSpoolFile), 16u);
}

TEST_F(ReporterTest, WhatTheServerCallsInvalidIsDroppedNotSpooled) {
  service_.set_status(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no"));
  WorkerReporter reporter(address_, "j", 1);
  ASSERT_TRUE(reporter.AttachSpool(dir_ / kSpoolFile).ok());
  ::testing::internal::CaptureStderr();
  reporter.Log(v1::LogLine::INFO, "x");
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("log line event dropped"));
  EXPECT_EQ(reporter.Flush(std::chrono::milliseconds(10)), 0u);
}

}  // namespace
}  // namespace edbp::worker

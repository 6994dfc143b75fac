#include "client/common/job_stream.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/client/fake_training_service.h"
#include "tests/wait_until.h"

namespace edbp::client {
namespace {

using cli::testing::ClosedPort;
using cli::testing::FakeServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = StreamItem::Kind;

// Retries every 20-100 ms, for ever (the dashboard's policy, faster).
FollowPolicy Fast() {
  FollowPolicy policy;
  policy.backoff = {absl::Milliseconds(20), absl::Milliseconds(100)};
  return policy;
}

std::unique_ptr<v1::TrainingService::Stub> StubFor(const std::string& address) {
  return v1::TrainingService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// Items until kEnd/kError (included) or `limit` passes.
std::vector<StreamItem> Drain(JobStream& stream,
                              absl::Duration limit = absl::Seconds(10)) {
  std::vector<StreamItem> items;
  const absl::Time give_up = absl::Now() + limit;
  while (absl::Now() < give_up) {
    std::optional<StreamItem> item = stream.Next(absl::Milliseconds(50));
    if (!item.has_value()) continue;
    items.push_back(*item);
    if (item->kind == Kind::kEnd || item->kind == Kind::kError) break;
  }
  return items;
}

std::vector<int64_t> Sequences(const std::vector<StreamItem>& items) {
  std::vector<int64_t> sequences;
  for (const StreamItem& item : items) {
    if (item.kind == Kind::kEvent) sequences.push_back(item.event.sequence());
  }
  return sequences;
}

TEST(JobStreamTest, ReplaysTheWholeHistoryThenEnds) {
  FakeServer server;
  auto stub = StubFor(server.address());
  JobStream stream(stub.get(), "jobs/1", 1, Fast());
  const std::vector<StreamItem> items = Drain(stream);
  EXPECT_THAT(Sequences(items), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items.back().kind, Kind::kEnd);
  EXPECT_TRUE(items[4].event.has_epoch_metrics());
  // Nothing follows the end.
  EXPECT_FALSE(stream.Next(absl::Milliseconds(50)).has_value());
}

TEST(JobStreamTest, StartsAtTheGivenSequence) {
  FakeServer server;
  auto stub = StubFor(server.address());
  JobStream stream(stub.get(), "jobs/1", 9, Fast());
  EXPECT_THAT(Sequences(Drain(stream)), ElementsAre(9, 10, 11));
  EXPECT_THAT(server.service().watch_from_sequences("jobs/1"), ElementsAre(9));
}

TEST(JobStreamTest, ABrokenStreamResumesAfterTheLastEventWithoutRepeats) {
  FakeServer server;
  auto stub = StubFor(server.address());
  // jobs/5's first stream breaks with UNAVAILABLE after event 3.
  JobStream stream(stub.get(), "jobs/5", 1, Fast());
  const std::vector<StreamItem> items = Drain(stream);
  EXPECT_THAT(Sequences(items), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  std::vector<Kind> kinds;
  for (const StreamItem& item : items) {
    if (item.kind != Kind::kEvent) kinds.push_back(item.kind);
  }
  EXPECT_THAT(kinds, ElementsAre(Kind::kUnreachable, Kind::kReachable, Kind::kEnd));
  EXPECT_EQ(items[3].kind, Kind::kUnreachable);
  EXPECT_THAT(items[3].message, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(server.service().watch_from_sequences("jobs/5"), ElementsAre(1, 4));
}

TEST(JobStreamTest, AnUnknownJobEndsWithAnError) {
  FakeServer server;
  auto stub = StubFor(server.address());
  JobStream stream(stub.get(), "jobs/99", 1, Fast());
  const std::vector<StreamItem> items = Drain(stream);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kError);
  EXPECT_THAT(items[0].message, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(items[0].message, HasSubstr("jobs/99"));
}

TEST(JobStreamTest, AnUnreachableServerIsReportedOnceWhileRetrying) {
  auto stub = StubFor("127.0.0.1:" + std::to_string(ClosedPort()));
  JobStream stream(stub.get(), "jobs/1", 1, Fast());
  const std::vector<StreamItem> items = Drain(stream, absl::Seconds(2));
  ASSERT_EQ(items.size(), 1u);  // several attempts in 2 s, one report
  EXPECT_EQ(items[0].kind, Kind::kUnreachable);
  EXPECT_THAT(items[0].message, HasSubstr("UNAVAILABLE"));
}

TEST(JobStreamTest, AServerNeverReachedEndsAtOnceWhenThePolicySaysSo) {
  auto stub = StubFor("127.0.0.1:" + std::to_string(ClosedPort()));
  FollowPolicy policy = Fast();
  policy.fail_if_never_reached = true;
  const absl::Time start = absl::Now();
  JobStream stream(stub.get(), "jobs/1", 1, policy);
  const std::vector<StreamItem> items = Drain(stream, absl::Seconds(5));
  ASSERT_EQ(items.size(), 1u);  // no kUnreachable first: nothing is retried
  EXPECT_EQ(items[0].kind, Kind::kError);
  EXPECT_EQ(items[0].status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(items[0].message, HasSubstr("UNAVAILABLE"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(JobStreamTest, GivesUpAfterThePolicysFailedAttempts) {
  auto stub = StubFor("127.0.0.1:" + std::to_string(ClosedPort()));
  FollowPolicy policy = Fast();
  policy.max_failed_attempts = 3;  // the stream, then two probes
  JobStream stream(stub.get(), "jobs/1", 1, policy);
  const std::vector<StreamItem> items = Drain(stream);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, Kind::kUnreachable);
  EXPECT_EQ(items[1].kind, Kind::kError);
  EXPECT_NE(items[1].status.error_code(), grpc::StatusCode::OK);
  EXPECT_THAT(items[1].message, HasSubstr("(gave up after 3 attempts)"));
  EXPECT_FALSE(stream.Next(absl::Milliseconds(50)).has_value());
}

TEST(JobStreamTest, NewEventsResetTheCountOfFailedAttempts) {
  FakeServer server;
  auto stub = StubFor(server.address());
  // jobs/5's stream breaks once, after 3 events: one failed attempt of two allowed.
  FollowPolicy policy = Fast();
  policy.max_failed_attempts = 2;
  JobStream resumed(stub.get(), "jobs/5", 1, policy);
  std::vector<StreamItem> items = Drain(resumed);
  EXPECT_THAT(Sequences(items), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items.back().kind, Kind::kEnd);

  // With one attempt allowed the break is the end, after the events before it.
  FakeServer fresh;  // whose jobs/5 breaks again
  auto fresh_stub = StubFor(fresh.address());
  policy.max_failed_attempts = 1;
  JobStream snapshot(fresh_stub.get(), "jobs/5", 1, policy);
  items = Drain(snapshot);
  EXPECT_THAT(Sequences(items), ElementsAre(1, 2, 3));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[3].kind, Kind::kError);
  EXPECT_EQ(items[3].status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(items[3].message, HasSubstr("(gave up after 1 attempt)"));
}

TEST(JobStreamTest, StopEndsALiveStream) {
  FakeServer server;
  auto stub = StubFor(server.address());
  // jobs/4 is RUNNING: after its 4 events the stream stays open.
  auto stream = std::make_unique<JobStream>(stub.get(), "jobs/4", 1, Fast());
  EXPECT_THAT(Sequences(Drain(*stream, absl::Seconds(1))), ElementsAre(1, 2, 3, 4));
  const absl::Time before = absl::Now();
  stream->Stop();
  EXPECT_FALSE(stream->Next(absl::Milliseconds(10)).has_value());
  stream.reset();  // joins the thread: the call was cancelled
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
}

TEST(JobStreamTest, AFullQueueHoldsTheReaderBack) {
  FakeServer server;
  std::vector<v1::Event> events;
  for (int64_t s = 1; s <= static_cast<int64_t>(JobStream::kMaxQueued) + 50; ++s) {
    v1::Event e;
    e.set_job("jobs/1");
    e.set_sequence(s);
    e.mutable_log()->set_text("line");
    events.push_back(e);
  }
  server.service().SetScript("jobs/1", events);
  auto stub = StubFor(server.address());
  JobStream stream(stub.get(), "jobs/1", 1, Fast());
  EXPECT_TRUE(
      edbp::testing::WaitUntil([&] { return stream.Queued() >= JobStream::kMaxQueued; },
                               std::chrono::seconds(10)));
  absl::SleepFor(absl::Milliseconds(200));  // the reader would go on if it could
  EXPECT_EQ(stream.Queued(), JobStream::kMaxQueued);
  const std::vector<StreamItem> items = Drain(stream);
  ASSERT_EQ(items.size(), events.size() + 1);  // nothing lost, then kEnd
  EXPECT_EQ(items[events.size() - 1].event.sequence(),
            static_cast<int64_t>(events.size()));
}

}  // namespace
}  // namespace edbp::client

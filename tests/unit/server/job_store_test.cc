// JobStore: round trips of jobs and events, id assignment, request-id dedupe, state
// transitions, paging, reopening, and durability when the writing process is killed.
#include "server/job_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/job_name.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/status_macros.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

v1::Job QueuedJob(const std::string& display_name) {
  v1::Job job;
  job.set_display_name(display_name);
  job.set_config_yaml("Network:\n  epochs: 3\n");
  job.set_state(v1::QUEUED);
  job.mutable_create_time()->set_seconds(1700000000);
  job.set_best_test_accuracy(-1);
  job.set_epochs(3);
  return job;
}

v1::Event LogEvent(const std::string& job, int64_t sequence) {
  v1::Event event;
  event.set_job(job);
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1700000000 + sequence);
  event.mutable_log()->set_level(v1::LogLine::INFO);
  event.mutable_log()->set_text(absl::StrCat("line ", sequence));
  return event;
}

std::vector<std::string> Names(const std::vector<v1::Job>& jobs) {
  std::vector<std::string> names;
  names.reserve(jobs.size());
  for (const v1::Job& job : jobs) names.push_back(job.name());
  return names;
}

std::vector<int64_t> Sequences(const std::vector<v1::Event>& events) {
  std::vector<int64_t> sequences;
  sequences.reserve(events.size());
  for (const v1::Event& event : events) sequences.push_back(event.sequence());
  return sequences;
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> values;
  for (int64_t i = first; i <= last; ++i) values.push_back(i);
  return values;
}

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::path(::testing::TempDir()) / "job_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    path_ = (dir_ / "edbp.sqlite").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string path_;
};

TEST_F(JobStoreTest, CreateAndGetRoundTripEveryField) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  EXPECT_TRUE(fs::exists(path_ + "-wal"));  // WAL mode
  v1::Job job = QueuedJob("mnist");
  job.set_name("ignored");
  job.set_priority(-4);
  job.mutable_create_time()->set_nanos(123456789);
  job.mutable_start_time()->set_seconds(1700000100);
  job.mutable_end_time()->set_seconds(1700000200);
  job.set_device("cuda:1");
  job.set_error("out of memory");
  job.set_best_test_accuracy(0.8125);
  job.set_last_epoch(2);
  job.set_last_sequence(9);  // the store owns it: a new job has no events
  ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(job, "req-1"));
  v1::Job expected = job;
  expected.set_name("jobs/1");
  expected.set_last_sequence(0);
  EXPECT_TRUE(created.second);
  EXPECT_TRUE(MessageDifferencer::Equals(created.first, expected))
      << created.first.DebugString();
  ASSERT_OK_AND_ASSIGN(v1::Job got, store->GetJob("1"));
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected)) << got.DebugString();
}

TEST_F(JobStoreTest, IdsIncreaseAndAreNeverReused) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
    for (const char* expected : {"jobs/1", "jobs/2", "jobs/3"}) {
      ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(QueuedJob("x"), ""));
      EXPECT_EQ(created.first.name(), expected);
    }
  }
  // Remove the newest row behind the store's back: AUTOINCREMENT must not hand out 3
  // again.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "DELETE FROM jobs WHERE id = 3", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(QueuedJob("x"), ""));
  EXPECT_EQ(created.first.name(), "jobs/4");
}

TEST_F(JobStoreTest, DeleteJobRemovesItsRowsAndKeepsItsIdRetired) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto one, store->CreateJob(QueuedJob("one"), "req-1"));
  ASSERT_OK_AND_ASSIGN(auto two, store->CreateJob(QueuedJob("two"), ""));
  v1::Event event;
  event.set_job("jobs/1");
  event.set_sequence(1);
  ASSERT_OK(store->AppendEvent(event));
  v1::Job ended = one.first;
  ended.set_state(v1::SUCCEEDED);
  ASSERT_OK(store->UpdateJob(ended));
  ASSERT_OK(store->AddJobToken("1", 1, std::string(32, 'h')));
  ASSERT_OK(store->DeleteJob("1"));
  EXPECT_EQ(store->GetJob("1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->ReadEvents("1", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->FindJobToken(std::string(32, 'h')).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteJob("1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteJob("x").code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto left, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 0));
  EXPECT_EQ(Names(left), std::vector<std::string>{"jobs/2"});
  // Neither the id nor the request id comes back: a new job with req-1 is a new job.
  ASSERT_OK_AND_ASSIGN(auto three, store->CreateJob(QueuedJob("one"), "req-1"));
  EXPECT_TRUE(three.second);
  EXPECT_EQ(three.first.name(), "jobs/3");
}

TEST_F(JobStoreTest, ListJobsByDisplayNameCountsOnlyMatches) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  for (const char* name : {"a", "b", "a", "c", "a", "b"}) {
    v1::Job job = QueuedJob("x");
    job.set_display_name(name);
    ASSERT_OK(store->CreateJob(job, "").status());
  }
  ASSERT_OK_AND_ASSIGN(auto as, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 2, "a"));
  EXPECT_EQ(Names(as), (std::vector<std::string>{"jobs/5", "jobs/3"}));
  ASSERT_OK_AND_ASSIGN(auto page2, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 3, 2, "a"));
  EXPECT_EQ(Names(page2), std::vector<std::string>{"jobs/1"});
  ASSERT_OK_AND_ASSIGN(auto none, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 0, "z"));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(auto bs, store->ListJobs(v1::QUEUED, 0, 0, "b"));
  EXPECT_EQ(Names(bs), (std::vector<std::string>{"jobs/6", "jobs/2"}));
}

TEST_F(JobStoreTest, RequestIdReturnsTheFirstJob) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto first, store->CreateJob(QueuedJob("first"), "req-1"));
  ASSERT_OK_AND_ASSIGN(auto retry, store->CreateJob(QueuedJob("retry"), "req-1"));
  EXPECT_TRUE(first.second);
  EXPECT_FALSE(retry.second);
  EXPECT_EQ(retry.first.name(), "jobs/1");
  EXPECT_EQ(retry.first.display_name(), "first");
  ASSERT_OK_AND_ASSIGN(auto jobs, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 100));
  EXPECT_THAT(Names(jobs), ElementsAre("jobs/1"));

  // Another request id, and no request id (twice), each make a new job.
  ASSERT_OK_AND_ASSIGN(auto other, store->CreateJob(QueuedJob("other"), "req-2"));
  ASSERT_OK_AND_ASSIGN(auto plain1, store->CreateJob(QueuedJob("plain"), ""));
  ASSERT_OK_AND_ASSIGN(auto plain2, store->CreateJob(QueuedJob("plain"), ""));
  EXPECT_EQ(other.first.name(), "jobs/2");
  EXPECT_EQ(plain1.first.name(), "jobs/3");
  EXPECT_EQ(plain2.first.name(), "jobs/4");
  EXPECT_TRUE(plain2.second);
}

// Issue 17: the same request id with another config is an error, not the first job.
TEST_F(JobStoreTest, RequestIdWithAnotherConfigIsAlreadyExists) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto first, store->CreateJob(QueuedJob("first"), "req-1"));
  v1::Job other = QueuedJob("first");
  other.set_config_yaml("Network:\n  epochs: 4\n");
  const auto reused = store->CreateJob(other, "req-1");
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(reused.status().message(),
              HasSubstr("request_id req-1 was used for jobs/1"));
  ASSERT_OK_AND_ASSIGN(auto jobs, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 100));
  EXPECT_THAT(Names(jobs), ElementsAre("jobs/1"));  // nothing written
  EXPECT_EQ(jobs[0].config_yaml(), first.first.config_yaml());
}

TEST_F(JobStoreTest, UpdateJobRecordsStateTransitions) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(QueuedJob("a"), ""));
  v1::Job job = created.first;
  job.set_state(v1::RUNNING);
  job.set_device("cpu:0");
  ASSERT_TRUE(store->UpdateJob(job).ok());
  job.set_last_epoch(1);  // no state change: no transition
  job.set_best_test_accuracy(0.5);
  ASSERT_TRUE(store->UpdateJob(job).ok());
  job.set_state(v1::SUCCEEDED);
  job.set_last_epoch(3);
  ASSERT_TRUE(store->UpdateJob(job).ok());
  ASSERT_TRUE(store->UpdateJob(job).ok());

  ASSERT_OK_AND_ASSIGN(auto transitions, store->Transitions("1"));
  EXPECT_THAT(transitions, ElementsAre(Pair(v1::QUEUED, v1::RUNNING),
                                       Pair(v1::RUNNING, v1::SUCCEEDED)));
  ASSERT_OK_AND_ASSIGN(v1::Job got, store->GetJob("1"));
  EXPECT_TRUE(MessageDifferencer::Equals(got, job)) << got.DebugString();
  ASSERT_OK_AND_ASSIGN(auto by_state, store->JobsInState(v1::SUCCEEDED));
  EXPECT_THAT(Names(by_state), ElementsAre("jobs/1"));
}

TEST_F(JobStoreTest, UpdateJobKeepsTheStoredLastSequence) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(QueuedJob("a"), ""));
  for (int64_t s = 1; s <= 3; ++s)
    ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/1", s)).ok());
  v1::Job stale = created.first;  // last_sequence 0
  stale.set_state(v1::RUNNING);
  ASSERT_TRUE(store->UpdateJob(stale).ok());
  ASSERT_OK_AND_ASSIGN(v1::Job got, store->GetJob("1"));
  EXPECT_EQ(got.state(), v1::RUNNING);
  EXPECT_EQ(got.last_sequence(), 3);
  EXPECT_TRUE(store->AppendEvent(LogEvent("jobs/1", 4)).ok());
}

TEST_F(JobStoreTest, UpdateJobErrors) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  v1::Job job = QueuedJob("a");
  job.set_name("jobs/5");
  EXPECT_EQ(store->UpdateJob(job).code(), absl::StatusCode::kNotFound);
  job.set_name("5");
  EXPECT_EQ(store->UpdateJob(job).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Transitions("5").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobStoreTest, AppendEventRequiresTheNextSequence) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_TRUE(store->CreateJob(QueuedJob("a"), "").ok());
  const absl::Status first = store->AppendEvent(LogEvent("jobs/1", 2));
  EXPECT_EQ(first.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(first.message(), HasSubstr("sequence 2"));
  EXPECT_THAT(first.message(), HasSubstr("last is 0"));
  for (int64_t s = 1; s <= 5; ++s) {
    ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/1", s)).ok()) << s;
  }
  const absl::Status gap = store->AppendEvent(LogEvent("jobs/1", 7));
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(gap.message(), HasSubstr("sequence 7"));
  EXPECT_THAT(gap.message(), HasSubstr("last is 5"));
  const absl::Status repeat = store->AppendEvent(LogEvent("jobs/1", 5));
  EXPECT_EQ(repeat.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(repeat.message(), HasSubstr("sequence 5"));

  ASSERT_OK_AND_ASSIGN(auto events, store->ReadEvents("1", 1));
  EXPECT_EQ(Sequences(events), Range(1, 5));  // the rejected ones wrote nothing
  ASSERT_OK_AND_ASSIGN(v1::Job job, store->GetJob("1"));
  EXPECT_EQ(job.last_sequence(), 5);

  EXPECT_EQ(store->AppendEvent(LogEvent("jobs/2", 1)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->AppendEvent(LogEvent("job/1", 6)).code(),
            absl::StatusCode::kInvalidArgument);
}

// Issue 17: a training record (Event.record) is stored once, in the transaction that
// stores its event, so a replay after a resume or a retried report adds nothing.
TEST_F(JobStoreTest, ATrainingRecordIsStoredOnce) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(QueuedJob("a"), ""));
  auto record = [](int64_t sequence, int64_t number) {
    v1::Event event = LogEvent("jobs/1", sequence);
    event.set_record(number);
    return event;
  };
  ASSERT_TRUE(store->AppendEvent(record(1, 1)).ok());
  ASSERT_TRUE(store->AppendEvent(record(2, 2)).ok());
  ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/1", 3)).ok());  // no record: any number
  ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/1", 4)).ok());
  for (const int64_t replayed : {1, 2}) {
    const absl::Status again = store->AppendEvent(record(5, replayed));
    EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << replayed;
    EXPECT_THAT(again.message(), HasSubstr(absl::StrCat("record ", replayed)));
    EXPECT_THAT(again.message(), HasSubstr("the last is 2"));
  }
  EXPECT_EQ(store->AppendEvent(record(5, -1)).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->AppendEvent(record(5, 9)).ok());  // a gap is accepted
  v1::Job stale = created.first;  // last_record 0: UpdateJob keeps the stored one
  stale.set_state(v1::RUNNING);
  ASSERT_TRUE(store->UpdateJob(stale).ok());
  ASSERT_OK_AND_ASSIGN(v1::Job job, store->GetJob("1"));
  EXPECT_EQ(job.last_record(), 9);
  EXPECT_EQ(job.last_sequence(), 5);
  ASSERT_OK_AND_ASSIGN(auto events, store->ReadEvents("1", 1));
  EXPECT_EQ(Sequences(events), Range(1, 5));
}

TEST_F(JobStoreTest, ReadEventsFromTheMiddle) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_TRUE(store->CreateJob(QueuedJob("a"), "").ok());
  ASSERT_TRUE(store->CreateJob(QueuedJob("b"), "").ok());
  for (int64_t s = 1; s <= 10; ++s) {
    ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/1", s)).ok());
    if (s <= 2) {
      ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/2", s)).ok());
    }
  }
  ASSERT_OK_AND_ASSIGN(auto tail, store->ReadEvents("1", 4));
  EXPECT_EQ(Sequences(tail), Range(4, 10));
  EXPECT_TRUE(MessageDifferencer::Equals(tail[0], LogEvent("jobs/1", 4)))
      << tail[0].DebugString();
  ASSERT_OK_AND_ASSIGN(auto page, store->ReadEvents("1", 4, 3));
  EXPECT_EQ(Sequences(page), Range(4, 6));
  ASSERT_OK_AND_ASSIGN(auto all, store->ReadEvents("1", 0));
  EXPECT_EQ(Sequences(all), Range(1, 10));
  ASSERT_OK_AND_ASSIGN(auto none, store->ReadEvents("1", 11));
  EXPECT_THAT(none, IsEmpty());
  ASSERT_OK_AND_ASSIGN(auto other, store->ReadEvents("2", 1));
  EXPECT_EQ(Sequences(other), Range(1, 2));
  EXPECT_EQ(other[1].job(), "jobs/2");
  EXPECT_EQ(store->ReadEvents("3", 1).status().code(), absl::StatusCode::kNotFound);
}

// Seven jobs; the odd ones RUNNING, the even ones QUEUED.
void CreateSeven(JobStore& store) {
  for (int i = 1; i <= 7; ++i) {
    auto created = store.CreateJob(QueuedJob(absl::StrCat("job", i)), "");
    ASSERT_TRUE(created.ok()) << created.status();
    if (i % 2 == 1) {
      created->first.set_state(v1::RUNNING);
      ASSERT_TRUE(store.UpdateJob(created->first).ok());
    }
  }
}

TEST_F(JobStoreTest, ListJobsPagesNewestFirstAndFilters) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  CreateSeven(*store);
  const v1::JobState any = v1::JOB_STATE_UNSPECIFIED;
  ASSERT_OK_AND_ASSIGN(auto page1, store->ListJobs(any, 0, 3));
  EXPECT_THAT(Names(page1), ElementsAre("jobs/7", "jobs/6", "jobs/5"));
  ASSERT_OK_AND_ASSIGN(auto page2, store->ListJobs(any, 5, 3));
  EXPECT_THAT(Names(page2), ElementsAre("jobs/4", "jobs/3", "jobs/2"));
  ASSERT_OK_AND_ASSIGN(auto page3, store->ListJobs(any, 2, 3));
  EXPECT_THAT(Names(page3), ElementsAre("jobs/1"));
  ASSERT_OK_AND_ASSIGN(auto page4, store->ListJobs(any, 1, 3));
  EXPECT_THAT(page4, IsEmpty());
  ASSERT_OK_AND_ASSIGN(auto unlimited, store->ListJobs(any, 0, 0));
  EXPECT_EQ(unlimited.size(), 7u);

  ASSERT_OK_AND_ASSIGN(auto running, store->ListJobs(v1::RUNNING, 0, 10));
  EXPECT_THAT(Names(running), ElementsAre("jobs/7", "jobs/5", "jobs/3", "jobs/1"));
  ASSERT_OK_AND_ASSIGN(auto running2, store->ListJobs(v1::RUNNING, 5, 1));
  EXPECT_THAT(Names(running2), ElementsAre("jobs/3"));
  ASSERT_OK_AND_ASSIGN(auto queued, store->ListJobs(v1::QUEUED, 0, 10));
  EXPECT_THAT(Names(queued), ElementsAre("jobs/6", "jobs/4", "jobs/2"));
  EXPECT_EQ(queued[0].state(), v1::QUEUED);
  ASSERT_OK_AND_ASSIGN(auto failed, store->ListJobs(v1::FAILED, 0, 10));
  EXPECT_THAT(failed, IsEmpty());
}

TEST_F(JobStoreTest, JobsInStateOldestFirst) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  CreateSeven(*store);
  ASSERT_OK_AND_ASSIGN(auto running, store->JobsInState(v1::RUNNING));
  EXPECT_THAT(Names(running), ElementsAre("jobs/1", "jobs/3", "jobs/5", "jobs/7"));
  EXPECT_EQ(running[0].state(), v1::RUNNING);
  ASSERT_OK_AND_ASSIGN(auto queued, store->JobsInState(v1::QUEUED));
  EXPECT_THAT(Names(queued), ElementsAre("jobs/2", "jobs/4", "jobs/6"));
  ASSERT_OK_AND_ASSIGN(auto cancelled, store->JobsInState(v1::CANCELLED));
  EXPECT_THAT(cancelled, IsEmpty());
}

TEST_F(JobStoreTest, ReopenKeepsEverything) {
  v1::Job running;
  {
    ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
    ASSERT_OK_AND_ASSIGN(auto created, store->CreateJob(QueuedJob("a"), "req-1"));
    ASSERT_TRUE(store->CreateJob(QueuedJob("b"), "").ok());
    running = created.first;
    running.set_state(v1::RUNNING);
    running.set_device("cpu:0");
    ASSERT_TRUE(store->UpdateJob(running).ok());
    for (int64_t s = 1; s <= 4; ++s) {
      ASSERT_TRUE(store->AppendEvent(LogEvent("jobs/1", s)).ok());
    }
  }
  running.set_last_sequence(4);
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_OK_AND_ASSIGN(v1::Job got, store->GetJob("1"));
  EXPECT_TRUE(MessageDifferencer::Equals(got, running)) << got.DebugString();
  ASSERT_OK_AND_ASSIGN(auto events, store->ReadEvents("1", 1));
  EXPECT_EQ(Sequences(events), Range(1, 4));
  EXPECT_EQ(events[3].log().text(), "line 4");
  ASSERT_OK_AND_ASSIGN(auto transitions, store->Transitions("1"));
  EXPECT_THAT(transitions, ElementsAre(Pair(v1::QUEUED, v1::RUNNING)));
  ASSERT_OK_AND_ASSIGN(auto retry, store->CreateJob(QueuedJob("retry"), "req-1"));
  EXPECT_FALSE(retry.second);
  EXPECT_EQ(retry.first.name(), "jobs/1");
  EXPECT_EQ(store->AppendEvent(LogEvent("jobs/1", 4)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store->AppendEvent(LogEvent("jobs/1", 5)).ok());
  ASSERT_OK_AND_ASSIGN(auto jobs, store->ListJobs(v1::JOB_STATE_UNSPECIFIED, 0, 10));
  EXPECT_THAT(Names(jobs), ElementsAre("jobs/2", "jobs/1"));
}

// Checks that the store at `path` holds job 1 with events 1..n contiguous and
// last_sequence n; returns n (-1 on failure).
int64_t CheckContiguous(const std::string& path) {
  auto store = JobStore::Open(path);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return -1;
  auto events = (*store)->ReadEvents("1", 1);
  auto job = (*store)->GetJob("1");
  EXPECT_TRUE(events.ok() && job.ok());
  if (!events.ok() || !job.ok()) return -1;
  const auto n = static_cast<int64_t>(events->size());
  EXPECT_EQ(Sequences(*events), Range(1, n));
  EXPECT_EQ(job->last_sequence(), n);
  EXPECT_TRUE((*store)->AppendEvent(LogEvent("jobs/1", n + 1)).ok());
  return n;
}

TEST_F(JobStoreTest, EventsSurviveExitWithoutClose) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
    ASSERT_TRUE(store->CreateJob(QueuedJob("a"), "").ok());
  }  // no connection may cross the fork
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = JobStore::Open(path_);
    if (!store.ok()) _exit(2);
    for (int64_t s = 1; s <= 100; ++s) {
      if (!(*store)->AppendEvent(LogEvent("jobs/1", s)).ok()) _exit(3);
    }
    _exit(0);  // no destructors: the connection is never closed
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(CheckContiguous(path_), 100);
}

TEST_F(JobStoreTest, EventsSurviveSigkillMidStream) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
    ASSERT_TRUE(store->CreateJob(QueuedJob("a"), "").ok());
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto store = JobStore::Open(path_);
    if (!store.ok()) _exit(2);
    for (int64_t s = 1; s <= 1000000; ++s) {
      if (!(*store)->AppendEvent(LogEvent("jobs/1", s)).ok()) _exit(3);
      if (s == 50 && write(fds[1], "x", 1) != 1) _exit(4);
    }
    _exit(0);
  }
  close(fds[1]);
  char byte = 0;
  const ssize_t got = read(fds[0], &byte, 1);
  close(fds[0]);
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_EQ(got, 1) << "the child failed before appending 50 events, status " << status;
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_GE(CheckContiguous(path_), 50);
}

TEST_F(JobStoreTest, ConcurrentAppendsOnDifferentJobs) {
  constexpr int kThreads = 4;
  constexpr int64_t kEvents = 50;
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  for (int t = 0; t < kThreads; ++t)
    ASSERT_TRUE(store->CreateJob(QueuedJob("a"), "").ok());
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = JobName(int64_t{t} + 1);
      for (int64_t s = 1; s <= kEvents; ++s) {
        if (!store->AppendEvent(LogEvent(name, s)).ok()) ++failures[t];
        if (!store->GetJob(absl::StrCat(t + 1)).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
  for (int t = 1; t <= kThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(auto events, store->ReadEvents(absl::StrCat(t), 1));
    EXPECT_EQ(Sequences(events), Range(1, kEvents));
    EXPECT_EQ(events[0].job(), absl::StrCat("jobs/", t));
    ASSERT_OK_AND_ASSIGN(v1::Job job, store->GetJob(absl::StrCat(t)));
    EXPECT_EQ(job.last_sequence(), kEvents);
  }
}

TEST_F(JobStoreTest, GetMissingJobIsNotFound) {
  ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path_));
  ASSERT_TRUE(store->CreateJob(QueuedJob("a"), "").ok());
  const absl::Status missing = store->GetJob("7").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "job 7 not found");
  for (const char* id : {"01", "x", "", "-1", "0", "99999999999999999999"}) {
    EXPECT_EQ(store->GetJob(id).status().code(), absl::StatusCode::kNotFound) << id;
  }
}

TEST_F(JobStoreTest, OpenErrorsNameThePath) {
  const std::string unwritable = "/proc/x/edbp.sqlite";
  const absl::Status status = JobStore::Open(unwritable).status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(unwritable));

  const std::string garbage = (dir_ / "garbage.sqlite").string();
  std::ofstream(garbage) << std::string(4096, 'x');
  const absl::Status not_db = JobStore::Open(garbage).status();
  EXPECT_EQ(not_db.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(not_db.message(), HasSubstr(garbage));
}

}  // namespace
}  // namespace edbp::server

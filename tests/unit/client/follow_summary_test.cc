// client/cli/follow_summary.h: what watch and submit --follow end with.
#include "client/cli/follow_summary.h"

#include <string>

#include "gtest/gtest.h"

namespace edbp::cli {
namespace {

v1::Event Epoch(int64_t epoch, double test_accuracy) {
  v1::Event e;
  e.mutable_epoch_metrics()->set_epoch(epoch);
  e.mutable_epoch_metrics()->set_epochs(3);
  e.mutable_epoch_metrics()->set_test_accuracy(test_accuracy);
  return e;
}

v1::Event Saved(int64_t epoch, const std::string& kind, const std::string& path) {
  v1::Event e;
  e.mutable_checkpoint_saved()->set_epoch(epoch);
  e.mutable_checkpoint_saved()->set_kind(kind);
  e.mutable_checkpoint_saved()->set_path(path);
  return e;
}

TEST(FollowSummaryTest, ASucceededJobNamesItsBestEpochCheckpointsAndDownloads) {
  FollowSummary s;
  s.Observe(Epoch(1, 0.5));
  s.Observe(Saved(1, "last", "/data/jobs/17/checkpoint_last.safetensors"));
  s.Observe(Saved(1, "best", "/data/jobs/17/checkpoint_best.safetensors"));
  s.Observe(Epoch(2, 0.8125));
  s.Observe(Saved(2, "last", "/data/jobs/17/checkpoint_last.safetensors"));
  s.Observe(Saved(2, "best", "/data/jobs/17/checkpoint_best.safetensors"));
  s.Observe(Epoch(3, 0.8125));  // a tie: the best stays epoch 2's, as the trainer's
  s.Observe(Saved(3, "last", "/data/jobs/17/checkpoint_last.safetensors"));
  EXPECT_EQ(s.best_accuracy(), 0.8125);
  EXPECT_EQ(s.best_epoch(), 2);
  v1::Job job;
  job.set_name("jobs/17");
  job.set_display_name("small");
  job.set_state(v1::SUCCEEDED);
  job.set_last_epoch(3);
  job.set_epochs(3);
  job.set_best_test_accuracy(0.8125);
  EXPECT_EQ(s.Format(job, "edbp-client --server h:1"),
            "summary: jobs/17 \"small\" SUCCEEDED after 3/3 epochs\n"
            "  best test accuracy: 81.25% at epoch 2\n"
            "  checkpoints (on the server's machine):\n"
            "    last (epoch 3): /data/jobs/17/checkpoint_last.safetensors\n"
            "    best (epoch 2): /data/jobs/17/checkpoint_best.safetensors\n"
            "  download: edbp-client --server h:1 download jobs/17 -o "
            "job17_last.safetensors\n"
            "            edbp-client --server h:1 download jobs/17 --best -o "
            "job17_best.safetensors\n");
}

TEST(FollowSummaryTest, AFailedJobSaysWhyAndHasNoCheckpoints) {
  FollowSummary s;
  v1::Job job;
  job.set_name("jobs/18");
  job.set_state(v1::FAILED);
  job.set_epochs(3);
  job.set_best_test_accuracy(-1);
  job.set_error("edbp-train exited with status 1:\nboom");
  EXPECT_EQ(s.Format(job, "edbp-client --server h:1"),
            "summary: jobs/18 FAILED after 0/3 epochs: edbp-train exited with status 1:\n"
            "boom\n"
            "  best test accuracy: - (no epoch finished)\n"
            "  checkpoints: none (no epoch finished)\n");
}

TEST(FollowSummaryTest, ACancelledJobWhoseEventsWereNotSeenUsesTheJob) {
  FollowSummary s;  // e.g. the events were stored before issue 19: no paths
  s.Observe(Saved(2, "last", ""));
  v1::Job job;
  job.set_name("jobs/19");
  job.set_state(v1::CANCELLED);
  job.set_last_epoch(2);
  job.set_epochs(5);
  job.set_best_test_accuracy(0.25);
  job.set_error("cancelled by a client");
  EXPECT_EQ(s.Format(job, "edbp-client --server 'a b'"),
            "summary: jobs/19 CANCELLED after 2/5 epochs: cancelled by a client\n"
            "  best test accuracy: 25.00%\n"
            "  checkpoints (on the server's machine):\n"
            "    last (epoch 2): (path not reported)\n"
            "    best: (path not reported)\n"
            "  download: edbp-client --server 'a b' download jobs/19 -o "
            "job19_last.safetensors\n"
            "            edbp-client --server 'a b' download jobs/19 --best -o "
            "job19_best.safetensors\n");
}

TEST(FollowSummaryTest, ShellQuoteLeavesSafeWordsAndQuotesTheRest) {
  EXPECT_EQ(ShellQuote("127.0.0.1:50051"), "127.0.0.1:50051");
  EXPECT_EQ(ShellQuote("/tmp/my token"), "'/tmp/my token'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("$HOME"), "'$HOME'");
}

}  // namespace
}  // namespace edbp::cli

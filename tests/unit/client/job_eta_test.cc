// client/common/job_eta.h: the job's time left from hand-made epoch and progress records.
#include "client/common/job_eta.h"

#include <optional>

#include "gtest/gtest.h"

namespace edbp::client {
namespace {

v1::Progress P(int64_t epoch, int64_t epochs, v1::Progress::Phase phase, int64_t batch,
               int64_t batches, double eta) {
  v1::Progress p;
  p.set_epoch(epoch);
  p.set_epochs(epochs);
  p.set_phase(phase);
  p.set_batch(batch);
  p.set_batches(batches);
  p.set_eta_seconds(eta);
  return p;
}

v1::EpochMetrics E(int64_t epoch, double seconds) {
  v1::EpochMetrics m;
  m.set_epoch(epoch);
  m.set_epochs(3);
  m.set_seconds(seconds);
  return m;
}

TEST(JobEtaTest, NothingKnownBeforeTheFirstProgressRecord) {
  JobEta eta;
  EXPECT_EQ(eta.Pace(), std::nullopt);
  EXPECT_EQ(eta.JobSeconds(), std::nullopt);
}

TEST(JobEtaTest, AJobOfThreeEpochsFromStartToEnd) {
  JobEta eta;
  // Epoch 1, training batch 10 of 40 with 30 s left: 1 s per batch, a 40 s pass, which
  // is the pace until an epoch ends. Epochs left: 2 + 30/40.
  eta.OnProgress(P(1, 3, v1::Progress::TRAIN, 10, 40, 30));
  EXPECT_EQ(eta.Pace(), 40.0);
  EXPECT_EQ(eta.JobSeconds(), 110.0);
  // Its test pass, batch 2 of 10 with 8 s left: the two epochs after it and the 8 s.
  eta.OnProgress(P(1, 3, v1::Progress::TEST, 2, 10, 8));
  EXPECT_EQ(eta.Pace(), 40.0);
  EXPECT_EQ(eta.JobSeconds(), 88.0);
  // Epoch 1 took 50 s: the pace from now on. No progress of epoch 2 yet: unknown.
  eta.OnEpoch(E(1, 50));
  EXPECT_EQ(eta.Pace(), 50.0);
  EXPECT_EQ(eta.JobSeconds(), std::nullopt);
  // Epoch 2, training batch 20 of 40: (1 + 20/40) epochs of 50 s.
  eta.OnProgress(P(2, 3, v1::Progress::TRAIN, 20, 40, 25));
  EXPECT_EQ(eta.JobSeconds(), 75.0);
  // Epoch 2 took 70 s: the mean, 60 s. Epoch 3's test pass with 3 s left: only those.
  eta.OnEpoch(E(2, 70));
  EXPECT_EQ(eta.Pace(), 60.0);
  eta.OnProgress(P(3, 3, v1::Progress::TRAIN, 40, 40, 0));
  EXPECT_EQ(eta.JobSeconds(), 0.0);
  eta.OnProgress(P(3, 3, v1::Progress::TEST, 5, 10, 3));
  EXPECT_EQ(eta.JobSeconds(), 3.0);
}

TEST(JobEtaTest, ATrainingPassEndOrAnOldRecordTellsNoPace) {
  JobEta eta;
  // Its last batch: no batch left to divide the eta by, and no epoch finished.
  eta.OnProgress(P(1, 3, v1::Progress::TRAIN, 40, 40, 0));
  EXPECT_EQ(eta.Pace(), std::nullopt);
  EXPECT_EQ(eta.JobSeconds(), std::nullopt);
  // A record stored before issue 19: no phase (the training pass), no epochs.
  eta.OnProgress(P(1, 0, v1::Progress::PHASE_UNSPECIFIED, 10, 40, 30));
  EXPECT_EQ(eta.Pace(), 40.0);
  EXPECT_EQ(eta.JobSeconds(), std::nullopt);
}

TEST(JobEtaTest, ANewEpochForgetsTheLastEpochsTrainingEstimate) {
  JobEta eta;
  eta.OnProgress(P(1, 2, v1::Progress::TRAIN, 1, 4, 3));  // 4 s per pass
  EXPECT_EQ(eta.Pace(), 4.0);
  // Epoch 2's first record (a resumed run whose epoch record was not seen): the
  // estimate is epoch 2's own.
  eta.OnProgress(P(2, 2, v1::Progress::TRAIN, 2, 4, 20));  // 10 s per batch
  EXPECT_EQ(eta.Pace(), 40.0);
  EXPECT_EQ(eta.JobSeconds(), 20.0);
}

}  // namespace
}  // namespace edbp::client

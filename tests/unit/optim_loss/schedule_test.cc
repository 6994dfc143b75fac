// Cosine annealing (ALGORITHM.md §10): epoch e trains at lr·½(1 + cos(π(e-1)/epochs)).
#include "core/optim/schedule.h"

#include "gtest/gtest.h"

namespace edbp {
namespace {

TEST(CosineAnnealingLrTest, FirstMiddleAndLastEpoch) {
  // epochs = 10, lr = 0.1.
  // e = 1: cos 0 = 1, the full lr.
  EXPECT_DOUBLE_EQ(CosineAnnealingLr(0.1, 1, 10), 0.1);
  // e = epochs/2 + 1 = 6: cos(π/2) = 0, half the lr.
  EXPECT_NEAR(CosineAnnealingLr(0.1, 6, 10), 0.05, 1e-17);
  // e = epochs = 10: 0.1·½(1 + cos(0.9π)) = 0.05·(1 - 0.9510565162951535)
  //                                       = 0.0024471741852423235
  EXPECT_NEAR(CosineAnnealingLr(0.1, 10, 10), 0.0024471741852423235, 1e-17);
  // A single-epoch run trains at the full lr.
  EXPECT_DOUBLE_EQ(CosineAnnealingLr(0.1, 1, 1), 0.1);
}

TEST(CosineAnnealingLrTest, DecreasesOverTheRun) {
  double previous = CosineAnnealingLr(1e-3, 1, 100);
  for (int e = 2; e <= 100; ++e) {
    const double lr = CosineAnnealingLr(1e-3, e, 100);
    EXPECT_LT(lr, previous) << "epoch " << e;
    EXPECT_GT(lr, 0) << "epoch " << e;
    previous = lr;
  }
}

}  // namespace
}  // namespace edbp

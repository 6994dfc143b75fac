// Synthetic data: the config's shape, labels in range, deterministic in the seed.
#include "core/data/synthetic.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace edbp::data {
namespace {

TEST(Synthetic, ShapeLabelsAndSeed) {
  const DataSplits a = MakeSyntheticSplits("CIFAR10", {3, 32, 32}, 10, 20, 7, 1);
  EXPECT_EQ(a.train.name, "CIFAR10/train");
  EXPECT_EQ(a.test.name, "CIFAR10/test");
  EXPECT_EQ(a.train.shape, (config::SampleShape{3, 32, 32}));
  EXPECT_EQ(a.train.size, 20);
  EXPECT_EQ(a.test.size, 7);
  EXPECT_EQ(a.train.pixels.size(), 20u * 3072u);
  ASSERT_EQ(a.train.labels.size(), 20u);
  for (int32_t l : a.train.labels) {
    EXPECT_GE(l, 0);
    EXPECT_LT(l, 10);
  }
  // Not constant: the pixels spread over the u8 range.
  const auto [lo, hi] = std::minmax_element(a.train.pixels.begin(), a.train.pixels.end());
  EXPECT_LT(*lo, 10);
  EXPECT_GT(*hi, 245);
  const DataSplits b = MakeSyntheticSplits("CIFAR10", {3, 32, 32}, 10, 20, 7, 1);
  const DataSplits c = MakeSyntheticSplits("CIFAR10", {3, 32, 32}, 10, 20, 7, 2);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.test.labels, b.test.labels);
  EXPECT_NE(a.train.pixels, c.train.pixels);
}

}  // namespace
}  // namespace edbp::data

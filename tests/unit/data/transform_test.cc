// Per-sample conversion (§11): the float32 formula, the Fashion-MNIST flip, and how the
// random draws depend on the generator.
#include "core/data/transform.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/data/data_test_util.h"

namespace edbp::data {
namespace {

using testing::MakeDataset;

std::vector<float> Sample(const Dataset& ds, int64_t index, bool augment,
                          std::mt19937_64& rng) {
  std::vector<float> out(ds.sample_numel());
  MakeSample(ds, NormalizationFor(ds.name), index, augment, rng, out.data());
  return out;
}

// The sample with every row reversed (C = 1).
std::vector<float> Mirror(const std::vector<float>& x, int64_t h, int64_t w) {
  std::vector<float> out(x.size());
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t i = 0; i < w; ++i) out[y * w + i] = x[y * w + (w - 1 - i)];
  }
  return out;
}

TEST(NormalizationFor, GivesTheStandardConstants) {
  const Normalization mnist = NormalizationFor("MNIST");
  EXPECT_EQ(mnist.mean, std::vector<float>{0.1307f});
  EXPECT_EQ(mnist.std, std::vector<float>{0.3081f});
  EXPECT_EQ(NormalizationFor("FashionMNIST").mean, std::vector<float>{0.1307f});
  EXPECT_EQ(NormalizationFor("FashionMNIST/train").std, std::vector<float>{0.3081f});
  const Normalization cifar = NormalizationFor("CIFAR10");
  EXPECT_EQ(cifar.mean, (std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  EXPECT_EQ(cifar.std, (std::vector<float>{0.2023f, 0.1994f, 0.2010f}));
  EXPECT_EQ(NormalizationFor("CIFAR100").std, cifar.std);
  EXPECT_TRUE(NormalizationFor("NMNIST").mean.empty());
}

TEST(MakeSample, AppliesToTensorThenNormalizeInFloat32) {
  Dataset ds = MakeDataset("MNIST/test", 1, 1, 1, 4);
  ds.pixels = {0, 1, 128, 255};
  std::mt19937_64 rng(0);
  const std::vector<float> x = Sample(ds, 0, /*augment=*/false, rng);
  ASSERT_EQ(x.size(), 4u);
  EXPECT_EQ(x[0], -0.1307f / 0.3081f);
  EXPECT_EQ(x[1], (1.0f / 255.0f - 0.1307f) / 0.3081f);
  EXPECT_EQ(x[2], (128.0f / 255.0f - 0.1307f) / 0.3081f);
  EXPECT_EQ(x[3], (1.0f - 0.1307f) / 0.3081f);
  EXPECT_NEAR(x[3], 2.8214867, 1e-6);  // the familiar maximum of normalised MNIST

  Dataset raw = ds;  // no normalisation known: ToTensor only
  raw.name = "NMNIST";
  std::vector<float> y(4);
  MakeSample(raw, NormalizationFor("NMNIST"), 0, false, rng, y.data());
  EXPECT_EQ(y, (std::vector<float>{0.0f, 1.0f / 255.0f, 128.0f / 255.0f, 1.0f}));
}

TEST(MakeSample, EveryLevelFollowsTheFormulaBitForBit) {
  Dataset ds = MakeDataset("FashionMNIST/train", 1, 1, 16, 16);
  for (int level = 0; level < 256; ++level)
    ds.pixels[level] = static_cast<uint8_t>(level);
  std::mt19937_64 rng(0);
  const std::vector<float> x = Sample(ds, 0, /*augment=*/false, rng);
  std::vector<float> y(256);
  SampleMaker(ds, NormalizationFor("FashionMNIST")).Make(0, false, rng, y.data());
  for (int level = 0; level < 256; ++level) {
    const float expected = (static_cast<float>(level) / 255.0f - 0.1307f) / 0.3081f;
    EXPECT_EQ(x[level], expected) << level;
    EXPECT_EQ(y[level], expected) << level;
  }
}

TEST(MakeSample, FlipIsTheExactMirrorImage) {
  const Dataset ds = MakeDataset("FashionMNIST/train", 4, 1, 5, 7);
  std::mt19937_64 plain_rng(0);
  std::mt19937_64 rng(123);
  int flipped = 0, kept = 0;
  for (int trial = 0; trial < 64; ++trial) {
    const int64_t index = trial % 4;
    const std::vector<float> plain = Sample(ds, index, /*augment=*/false, plain_rng);
    const std::vector<float> augmented = Sample(ds, index, /*augment=*/true, rng);
    if (augmented == plain) {
      ++kept;
    } else {
      EXPECT_EQ(augmented, Mirror(plain, 5, 7)) << "trial " << trial;
      ++flipped;
    }
  }
  EXPECT_GT(flipped, 0);
  EXPECT_GT(kept, 0);
}

TEST(MakeSample, FlipDrawsOncePerSampleWithProbabilityOneHalf) {
  const Dataset ds = MakeDataset("FashionMNIST/train", 1, 1, 2, 2);
  std::mt19937_64 rng(7);
  std::mt19937_64 shadow(7);
  int flips = 0;
  constexpr int kDraws = 10000;
  for (int i = 0; i < kDraws; ++i) {
    std::vector<float> plain(4), x(4);
    std::mt19937_64 unused(0);
    MakeSample(ds, NormalizationFor("FashionMNIST"), 0, false, unused, plain.data());
    MakeSample(ds, NormalizationFor("FashionMNIST"), 0, true, rng, x.data());
    flips += x != plain;
    shadow.discard(1);
    ASSERT_EQ(rng, shadow) << "draw " << i << " took other than exactly one number";
  }
  EXPECT_NEAR(flips / static_cast<double>(kDraws), 0.5, 0.02);
}

TEST(MakeSample, SameSeedSameSamplesOtherSeedOthers) {
  const Dataset ds = MakeDataset("FashionMNIST/train", 20, 1, 3, 3);
  auto run = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> all;
    for (int64_t i = 0; i < ds.size; ++i) {
      const std::vector<float> x = Sample(ds, i, /*augment=*/true, rng);
      all.insert(all.end(), x.begin(), x.end());
    }
    return all;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(MakeSample, DrawsNothingWithoutAugmentationOrForMnist) {
  std::mt19937_64 rng(5);
  const std::mt19937_64 before = rng;
  const Dataset fashion = MakeDataset("FashionMNIST/train", 3, 1, 4, 4);
  for (int64_t i = 0; i < 3; ++i) Sample(fashion, i, /*augment=*/false, rng);
  EXPECT_EQ(rng, before);

  // MNIST has no training transform (§11): nothing drawn, nothing changed.
  const Dataset mnist = MakeDataset("MNIST/train", 3, 1, 4, 4);
  std::mt19937_64 other(0);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Sample(mnist, i, /*augment=*/true, rng), Sample(mnist, i, false, other));
  }
  EXPECT_EQ(rng, before);
}

TEST(MakeSampleDeathTest, AugmentingAnUnknownDataSetIsAProgrammerError) {
  const Dataset ds = MakeDataset("/tmp/images", 1, 1, 2, 2);
  std::mt19937_64 rng(0);
  EXPECT_DEATH(Sample(ds, 0, /*augment=*/true, rng), "no training transform");
}

}  // namespace
}  // namespace edbp::data

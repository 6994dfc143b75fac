// The real Fashion-MNIST files (Debian's dataset-fashion-mnist): sizes, labels, read
// time, and normalised samples bit-identical to the reference's inputs.
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/transform.h"
#include "core/io/safetensors.h"
#include "gtest/gtest.h"

namespace edbp::data {
namespace {

constexpr char kDir[] = "/usr/share/datasets/fashion-mnist";
constexpr char kReferenceInputs[] = "tests/data/reference-small/step.safetensors";

bool HaveFashionMnist() {
  return std::filesystem::exists(std::string(kDir) + "/train-images-idx3-ubyte.gz") &&
         std::filesystem::exists(std::string(kDir) + "/t10k-labels-idx1-ubyte.gz");
}

config::NetworkConfig FashionMnist() {
  config::NetworkConfig network;
  network.dataset = "FashionMNIST";  // data_path empty: the standard location
  return network;
}

TEST(FashionMnist, SplitsHaveTheKnownSizes) {
  if (!HaveFashionMnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kDir;
  const auto start = std::chrono::steady_clock::now();
  auto splits = LoadDataSplits(FashionMnist());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(splits.ok()) << splits.status();
  std::printf("reading Fashion-MNIST (train + test): %.3f s\n", seconds);
  EXPECT_LT(seconds, 3.0);  // ~0.35 s on 2 loaded cores (zlib-bound); generous

  for (const Dataset* ds : {&splits->train, &splits->test}) {
    EXPECT_EQ(ds->shape, (config::SampleShape{1, 28, 28})) << ds->name;
    ASSERT_EQ(ds->pixels.size(), static_cast<size_t>(ds->size) * 784) << ds->name;
    ASSERT_EQ(ds->labels.size(), static_cast<size_t>(ds->size)) << ds->name;
    // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    std::vector<int64_t> per_class(10, 0);
    for (const int32_t label : ds->labels) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      ++per_class[label];
    }
    const int64_t expected = ds->size / 10;
    for (int c = 0; c < 10; ++c)
      EXPECT_EQ(per_class[c], expected) << ds->name << " " << c;
  }
  EXPECT_EQ(splits->train.size, 60000);
  EXPECT_EQ(splits->test.size, 10000);
  EXPECT_EQ(splits->train.name, "FashionMNIST/train");
  EXPECT_EQ(splits->test.name, "FashionMNIST/test");
  // The first training image is an ankle boot (9), the first test image too.
  EXPECT_EQ(splits->train.labels[0], 9);
  EXPECT_EQ(splits->test.labels[0], 9);
}

// tests/data/reference-small: `inputs` [T=5, 50, 1, 28, 28] are the reference's first
// 50 training images in file order, normalised, not augmented, repeated over T.
TEST(FashionMnist, SamplesMatchTheReferenceBitForBit) {
  if (!HaveFashionMnist()) GTEST_SKIP() << "Fashion-MNIST not installed in " << kDir;
  auto reference = ReadSafeTensors(kReferenceInputs);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const HostTensor& inputs = reference->tensors.at("inputs");
  ASSERT_EQ(inputs.shape, (Shape{5, 50, 1, 28, 28}));
  const HostTensor& labels = reference->tensors.at("labels");

  auto splits = LoadDataSplits(FashionMnist(), /*limit=*/50);
  ASSERT_TRUE(splits.ok()) << splits.status();
  const Dataset& train = splits->train;
  ASSERT_EQ(train.size, 50);
  const Normalization norm = NormalizationFor("FashionMNIST");
  std::mt19937_64 rng(0);
  std::vector<float> sample(784);
  for (int64_t i = 0; i < 50; ++i) {
    MakeSample(train, norm, i, /*augment=*/false, rng, sample.data());
    // Bit for bit: the same float32 values, compared as their bits.
    for (int64_t k = 0; k < 784; ++k) {
      ASSERT_EQ(std::bit_cast<uint32_t>(sample[k]),
                std::bit_cast<uint32_t>(inputs.data[i * 784 + k]))
          << "sample " << i << ", value " << k << ": " << sample[k] << " vs "
          << inputs.data[i * 784 + k];
    }
    EXPECT_EQ(static_cast<float>(train.labels[i]), labels.data[i]) << "sample " << i;
  }
  // Spot values: pixel 0 -> -0.1307/0.3081, pixel 255 -> (1 - 0.1307)/0.3081 (float32).
  EXPECT_EQ(inputs.data[0], (0.0f / 255.0f - 0.1307f) / 0.3081f);
}

}  // namespace
}  // namespace edbp::data

// SMNIST (the reference's datasets/loadSMNIST.py): MNIST images read column by column,
// one column per time step; its config rules; synthetic event and sequence data.
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"
#include "core/data/synthetic.h"
#include "core/data/transform.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/data/data_test_util.h"

namespace edbp::data {
namespace {

using ::testing::HasSubstr;

TEST(SequenceOfColumns, FrameTIsColumnT) {
  // One 1x2x3 image [[0, 1, 2], [3, 4, 5]] and one [[10, 11, 12], [13, 14, 15]].
  Dataset images;
  images.name = "MNIST/train";
  images.shape = {1, 2, 3};
  images.size = 2;
  images.pixels = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
  images.labels = {4, 9};
  const Dataset seq = SequenceOfColumns(images, "SMNIST/train");
  EXPECT_EQ(seq.name, "SMNIST/train");
  EXPECT_EQ(seq.shape, (config::SampleShape{1, 2, 1}));
  EXPECT_EQ(seq.frames, 3);
  EXPECT_EQ(seq.size, 2);
  EXPECT_EQ(seq.sample_floats(), 6);
  EXPECT_FALSE(seq.is_events());
  EXPECT_EQ(seq.pixels, (std::vector<uint8_t>{0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15}));
  EXPECT_EQ(seq.labels, (std::vector<int32_t>{4, 9}));
}

TEST(SequenceOfColumns, SamplesAreNormalisedAsMnistWithoutAugmentation) {
  Dataset images;
  images.shape = {1, 2, 2};
  images.size = 1;
  images.pixels = {0, 255, 51, 102};
  images.labels = {0};
  const Dataset seq = SequenceOfColumns(images, "SMNIST/train");
  std::vector<float> out(4);
  std::mt19937_64 rng(3);
  const std::mt19937_64 before = rng;
  MakeSample(seq, NormalizationFor(seq.name), 0, /*augment=*/true, rng, out.data());
  EXPECT_EQ(rng, before);  // no training transform: nothing drawn
  auto norm = [](int u8) {
    return (static_cast<float>(u8) / 255.0f - 0.1307f) / 0.3081f;
  };
  // Frame 0 = column 0 = (0, 51); frame 1 = (255, 102).
  EXPECT_EQ(out, (std::vector<float>{norm(0), norm(51), norm(255), norm(102)}));
}

class SmnistFilesTest : public testing::TempDirTest {};

TEST_F(SmnistFilesTest, LoadDataSplitsReadsTheMnistFiles) {
  std::vector<uint8_t> pixels(2 * 28 * 28);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i % 251);
  for (const std::string prefix : {"train", "t10k"}) {
    testing::WriteGzip(Path(prefix + "-images-idx3-ubyte.gz"),
                       testing::IdxImages(2, 28, 28, pixels));
    testing::WriteRaw(Path(prefix + "-labels-idx1-ubyte"), testing::IdxLabels(2, {3, 8}));
  }
  config::NetworkConfig network;
  network.dataset = "SMNIST";
  network.n_steps = 28;
  network.data_path = dir_.string();
  auto splits = LoadDataSplits(network);
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(splits->train.name, "SMNIST/train");
  EXPECT_EQ(splits->test.name, "SMNIST/test");
  EXPECT_EQ(splits->train.shape, (config::SampleShape{1, 28, 1}));
  EXPECT_EQ(splits->train.frames, 28);
  EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{3, 8}));
  // Sample 1, frame 5, row 7 = image 1 pixel (7, 5).
  EXPECT_EQ(splits->train.pixels[28 * 28 + 5 * 28 + 7], pixels[28 * 28 + 7 * 28 + 5]);
  EXPECT_EQ(FramesPerSample(network), 28);
  // A loader batch is [B, T, C, H, W].
  BatchLoader loader(splits->train, {.batch_size = 2});
  std::optional<Batch> batch = loader.Next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->frames, 28);
  EXPECT_EQ(batch->images.size(), 2u * 28 * 28);
}

TEST_F(SmnistFilesTest, MissingFilesNameWhatWasTried) {
  config::NetworkConfig network;
  network.dataset = "SMNIST";
  network.n_steps = 28;
  network.data_path = dir_.string();
  auto splits = LoadDataSplits(network);
  ASSERT_FALSE(splits.ok());
  EXPECT_EQ(splits.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(splits.status().message(), HasSubstr("train-images-idx3-ubyte not found"));
}

// Config rules for the sequence and event data sets (core/config, §0, §6).
std::string SmnistYaml(const std::string& n_steps, const std::string& extra = "") {
  return "Network:\n  epochs: 1\n  batch_size: 2\n  n_steps: " + n_steps +
         "\n  dataset: SMNIST\n  optimizer: AdamW\n  lr: 0.001\n  loss: count\n"
         "  gradient_type: exponential\n  n_class: 10\n  desired_count: 5\n"
         "  undesired_count: 1\n  tau_m: 5\n  tau_s: 3\n  tau_grad: 2.5\n" +
         extra +
         "Layers:\n  output:\n    type: linear\n    n_inputs: 28\n    n_outputs: 10\n"
         "    threshold: 1\n";
}

TEST(SequenceConfig, SmnistTakesTwentyEightStepsOfOneColumn) {
  auto config = config::ParseConfig(SmnistYaml("28", "  cache_path: /tmp/frames\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->input_shape, (config::SampleShape{1, 28, 1}));
  EXPECT_EQ(config->network.cache_path, "/tmp/frames");
  EXPECT_FALSE(config::IsEventDataset("SMNIST"));
  auto wrong = config::ParseConfig(SmnistYaml("10"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(
      wrong.status().message(),
      HasSubstr("Network.n_steps: expected 28 (SMNIST samples are sequences of 28 "
                "steps), got 10"));
}

TEST(SequenceConfig, FramesCannotBeTtfsEncoded) {
  auto config = config::ParseConfig(SmnistYaml("28", "  encoding: TTFS\n"));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(),
              HasSubstr("Network.encoding: expected None (SMNIST samples are already "
                        "frames, ALGORITHM.md §6), got TTFS"));
}

TEST(SyntheticFrames, EventDataSetsGetEqualEventCountFrames) {
  const DataSplits a =
      MakeSyntheticSplits("NMNIST", {2, 34, 34}, 10, 5, 3, 7, /*frames=*/30);
  EXPECT_EQ(a.train.name, "NMNIST/train");
  EXPECT_EQ(a.train.frames, 30);
  EXPECT_TRUE(a.train.is_events());
  EXPECT_TRUE(a.train.pixels.empty());
  ASSERT_EQ(a.train.frame_offsets.size(), 6u);
  EXPECT_EQ(a.test.size, 3);
  // Every frame integrates 2312 / 20 = 115 events; indices strictly increase.
  for (int64_t i = 0; i < a.train.size; ++i) {
    std::vector<uint32_t> per_frame(30, 0);
    for (uint64_t k = a.train.frame_offsets[i]; k < a.train.frame_offsets[i + 1]; ++k) {
      const FrameCount& c = a.train.frame_counts[k];
      ASSERT_LT(c.index, 30u * 2312u);
      if (k > a.train.frame_offsets[i]) {
        ASSERT_GT(c.index, a.train.frame_counts[k - 1].index);
      }
      per_frame[c.index / 2312] += c.count;
    }
    EXPECT_EQ(per_frame, std::vector<uint32_t>(30, 115)) << "sample " << i;
  }
  const DataSplits b = MakeSyntheticSplits("NMNIST", {2, 34, 34}, 10, 5, 3, 7, 30);
  EXPECT_EQ(a.train.frame_counts, b.train.frame_counts);
  EXPECT_EQ(a.train.labels, b.train.labels);
}

TEST(SyntheticFrames, SequenceDataSetsGetDenseFrames) {
  const DataSplits a = MakeSyntheticSplits("SMNIST", {1, 28, 1}, 10, 4, 2, 1, 28);
  EXPECT_EQ(a.train.frames, 28);
  EXPECT_FALSE(a.train.is_events());
  EXPECT_EQ(a.train.pixels.size(), 4u * 28u * 28u);
  // Static data sets are unchanged by the new argument's default.
  EXPECT_EQ(MakeSyntheticSplits("MNIST", {1, 28, 28}, 10, 4, 2, 1).train.frames, 0);
}

}  // namespace
}  // namespace edbp::data

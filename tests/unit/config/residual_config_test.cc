// Residual blocks in the config (ALGORITHM.md §5): parsing, shape inference, the
// errors of bad blocks, and the shipped configs/resnet.yaml.
#include <string>
#include <vector>

#include "core/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/config/test_configs.h"

namespace edbp::config {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using testing::ErrorLines;
using ::testing::HasSubstr;

// A small CIFAR-shaped net: conv 3->8, then the given residual entries, pooling, fc.
std::string Net(const std::string& blocks, int64_t fc_inputs = 16 * 8 * 8) {
  return R"(Network:
  epochs: 1
  batch_size: 2
  n_steps: 4
  dataset: "CIFAR10"
  optimizer: "AdamW"
  lr: 0.001
  loss: "count"
  gradient_type: "exponential"
  pooling_type: "adjusted_avg"
  n_class: 10
  desired_count: 3
  undesired_count: 1
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5
Layers:
  conv_1:
    type: "conv"
    in_channels: 3
    out_channels: 8
    kernel_size: 3
    padding: 1
    threshold: 1
)" + blocks +
         R"(  pooling_1:
    type: "pooling"
    kernel_size: 2
  fc:
    type: "linear"
    n_inputs: )" +
         std::to_string(fc_inputs) + R"(
    n_outputs: 10
    threshold: 1
)";
}

constexpr char kGoodBlocks[] = R"(  res_1:
    type: "residual"
    in_channels: 8
    out_channels: 16
    stride: 2
  res_2:
    type: "residual"
    in_channels: 16
    out_channels: 16
    threshold: 0.5
)";

TEST(ResidualConfig, ParsesWithInferredShapes) {
  const absl::StatusOr<Config> config = ParseConfig(Net(kGoodBlocks));
  ASSERT_TRUE(config.ok()) << config.status();
  const LayerConfig& r1 = config->layers[1];
  EXPECT_EQ(r1.type, LayerType::kResidual);
  EXPECT_EQ(r1.in_shape, (SampleShape{8, 32, 32}));
  EXPECT_EQ(r1.out_shape, (SampleShape{16, 16, 16}));  // stride 2 halves H, W
  EXPECT_EQ(r1.stride, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(r1.threshold, 1.0f);  // resnet.py's default
  const LayerConfig& r2 = config->layers[2];
  EXPECT_EQ(r2.out_shape, (SampleShape{16, 16, 16}));
  EXPECT_EQ(r2.threshold, 0.5f);
  EXPECT_EQ(config->layers[3].out_shape, (SampleShape{16, 8, 8}));
  EXPECT_EQ(LayerTypeName(LayerType::kResidual), "residual");
}

TEST(ResidualConfig, BlockParts) {
  const absl::StatusOr<Config> config = ParseConfig(Net(kGoodBlocks));
  ASSERT_TRUE(config.ok()) << config.status();
  const ResidualParts down = ResidualBlockParts(config->layers[1]);
  EXPECT_EQ(down.conv1.name, "res_1.conv1");
  EXPECT_EQ(down.conv1.kernel_size, (std::array<int64_t, 2>{3, 3}));
  EXPECT_EQ(down.conv1.padding, (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(down.conv1.stride, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(down.conv1.in_channels, 8);
  EXPECT_EQ(down.conv2.in_channels, 16);
  EXPECT_EQ(down.conv2.stride, (std::array<int64_t, 2>{1, 1}));
  ASSERT_TRUE(down.has_shortcut);
  EXPECT_EQ(down.shortcut.name, "res_1.shortcut");
  EXPECT_EQ(down.shortcut.kernel_size, (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(down.shortcut.padding, (std::array<int64_t, 2>{0, 0}));
  EXPECT_EQ(down.shortcut.stride, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(down.shortcut.out_shape, (SampleShape{16, 16, 16}));
  const ResidualParts same = ResidualBlockParts(config->layers[2]);
  EXPECT_FALSE(same.has_shortcut);  // identity
  EXPECT_EQ(same.conv1.threshold, 0.5f);
}

TEST(ResidualConfig, MissingOutChannels) {
  EXPECT_THAT(ErrorLines(Net(R"(  res_1:
    type: "residual"
    in_channels: 8
)")),
              Contains(HasSubstr("Layers.res_1.out_channels: missing required key")));
}

TEST(ResidualConfig, StrideThree) {
  EXPECT_THAT(
      ErrorLines(Net(R"(  res_1:
    type: "residual"
    in_channels: 8
    out_channels: 8
    stride: 3
)")),
      ElementsAre("Layers.res_1.stride: expected 1 or 2 (ALGORITHM.md §5), got 3"));
}

TEST(ResidualConfig, InChannelsMismatch) {
  EXPECT_THAT(ErrorLines(Net(R"(  res_1:
    type: "residual"
    in_channels: 4
    out_channels: 16
    stride: 2
)")),
              ElementsAre(HasSubstr("Layers.res_1.in_channels: expected 8")));
}

TEST(ResidualConfig, UnknownKey) {
  EXPECT_THAT(ErrorLines(Net(R"(  res_1:
    type: "residual"
    in_channels: 8
    out_channels: 16
    stride: 2
    kernel_size: 3
)")),
              Contains(HasSubstr("Layers.res_1.kernel_size: unknown key")));
}

TEST(ResidualConfig, ShippedResnet) {
  const absl::StatusOr<Config> config = LoadConfigFile("configs/resnet.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<LayerConfig>& l = config->layers;
  ASSERT_EQ(l.size(), 9u);
  EXPECT_EQ(l[0].out_shape, (SampleShape{128, 32, 32}));
  EXPECT_EQ(l[1].out_shape, (SampleShape{128, 16, 16}));
  EXPECT_TRUE(ResidualBlockParts(l[1]).has_shortcut);
  EXPECT_FALSE(ResidualBlockParts(l[2]).has_shortcut);
  EXPECT_EQ(l[3].out_shape, (SampleShape{256, 8, 8}));
  EXPECT_EQ(l[6].out_shape, (SampleShape{512, 4, 4}));
  EXPECT_EQ(l[7].out_shape, (SampleShape{512, 1, 1}));  // before the linear layer
  EXPECT_EQ(l[8].in_shape, (SampleShape{512}));
  EXPECT_EQ(config->network.optimizer, OptimizerType::kAdamW);
  EXPECT_EQ(config->network.n_steps, 12);
}

}  // namespace
}  // namespace edbp::config

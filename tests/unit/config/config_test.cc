// The good path: shipped configs parse with the reference's values and defaults, and
// shapes are inferred (ALGORITHM.md §0, §5).
#include "core/config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/config/test_configs.h"

namespace edbp::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigTest, FashionMnistFileHasEveryFieldAndDefault) {
  const absl::StatusOr<Config> config = LoadConfigFile("configs/fashion_mnist.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const NetworkConfig& n = config->network;
  EXPECT_EQ(n.epochs, 150);
  EXPECT_EQ(n.batch_size, 50);
  EXPECT_EQ(n.n_steps, 5);
  EXPECT_EQ(n.t_train, 5);  // default n_steps (§0)
  EXPECT_EQ(n.dataset, "FashionMNIST");
  EXPECT_EQ(n.data_path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(n.data_limit, 0);       // edbp extension: all samples
  EXPECT_EQ(n.progress_every, -1);  // edbp extension: not given (20)
  EXPECT_EQ(n.log_path, "logs/FashionMNIST");
  EXPECT_EQ(n.backend, BackendChoice::kAuto);
  EXPECT_EQ(n.optimizer, OptimizerType::kAdamW);
  EXPECT_DOUBLE_EQ(n.lr, 0.0005);
  EXPECT_DOUBLE_EQ(n.weight_decay, 0.0005);
  EXPECT_DOUBLE_EQ(n.avg_spike_init, 0.5);
  EXPECT_EQ(n.loss, LossType::kCount);
  EXPECT_TRUE(n.loss_reverse);  // reference default
  EXPECT_DOUBLE_EQ(n.norm_grad, 1);
  EXPECT_EQ(n.gradient_type, GradientType::kExponential);
  EXPECT_EQ(n.forward_type, ForwardType::kLeaky);
  EXPECT_EQ(n.pooling_type, PoolingType::kAdjustedAvg);
  EXPECT_EQ(n.n_class, 10);
  EXPECT_DOUBLE_EQ(n.desired_count, 5);
  EXPECT_DOUBLE_EQ(n.undesired_count, 1);
  EXPECT_DOUBLE_EQ(n.tau_m, 5);
  EXPECT_DOUBLE_EQ(n.tau_s, 3);
  EXPECT_DOUBLE_EQ(n.tau_grad, 2.5);
  EXPECT_DOUBLE_EQ(n.max_dudt_inv, 123456789);
  EXPECT_EQ(n.encoding, Encoding::kNone);
  EXPECT_FALSE(n.amp);
  EXPECT_EQ(n.weight_norm_backward, WeightNormBackward::kReference);

  EXPECT_EQ(config->input_shape, (SampleShape{1, 28, 28}));
  EXPECT_EQ(config->source_name, "configs/fashion_mnist.yaml");
  EXPECT_EQ(config->source_text, ReadText("configs/fashion_mnist.yaml"));

  const std::vector<LayerConfig>& l = config->layers;
  ASSERT_EQ(l.size(), 6u);
  EXPECT_EQ(l[0].name, "conv_1");
  EXPECT_EQ(l[0].type, LayerType::kConv);
  EXPECT_EQ(l[0].in_channels, 1);
  EXPECT_EQ(l[0].out_channels, 32);
  EXPECT_EQ(l[0].kernel_size, (std::array<int64_t, 2>{5, 5}));
  EXPECT_EQ(l[0].stride, (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(l[0].padding, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(l[0].dilation, (std::array<int64_t, 2>{1, 1}));
  EXPECT_FLOAT_EQ(l[0].threshold, 1);
  EXPECT_EQ(l[0].in_shape, (SampleShape{1, 28, 28}));
  EXPECT_EQ(l[0].out_shape, (SampleShape{32, 28, 28}));

  EXPECT_EQ(l[1].name, "pooling_1");
  EXPECT_EQ(l[1].type, LayerType::kPooling);
  EXPECT_EQ(l[1].kernel_size, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(l[1].out_shape, (SampleShape{32, 14, 14}));

  EXPECT_EQ(l[2].name, "conv_2");
  EXPECT_EQ(l[2].in_channels, 32);
  EXPECT_EQ(l[2].out_channels, 64);
  EXPECT_EQ(l[2].in_shape, (SampleShape{32, 14, 14}));
  EXPECT_EQ(l[2].out_shape, (SampleShape{64, 14, 14}));

  EXPECT_EQ(l[3].name, "pooling_2");
  EXPECT_EQ(l[3].out_shape, (SampleShape{64, 7, 7}));

  EXPECT_EQ(l[4].name, "FC_1");
  EXPECT_EQ(l[4].type, LayerType::kLinear);
  EXPECT_EQ(l[4].n_inputs, 3136);
  EXPECT_EQ(l[4].n_outputs, 1024);
  EXPECT_FLOAT_EQ(l[4].threshold, 1);
  EXPECT_EQ(l[4].in_shape, (SampleShape{3136}));  // flattened 64x7x7 (§5)
  EXPECT_EQ(l[4].out_shape, (SampleShape{1024}));

  EXPECT_EQ(l[5].name, "output");
  EXPECT_EQ(l[5].in_shape, (SampleShape{1024}));
  EXPECT_EQ(l[5].out_shape, (SampleShape{10}));
}

TEST(ConfigTest, EveryShippedConfigParses) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("configs")) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    const absl::StatusOr<Config> config = LoadConfigFile(entry.path().string());
    EXPECT_TRUE(config.ok()) << entry.path() << ": " << config.status();
    if (config.ok()) {
      EXPECT_EQ(config->network.backend, BackendChoice::kAuto);
    }
  }
  EXPECT_GE(count, 6);  // mnist, fashion_mnist, cifar10, cifar100, nmnist, small
}

TEST(ConfigTest, Cifar10ShapesThroughDropout) {
  const absl::StatusOr<Config> config = LoadConfigFile("configs/cifar10.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->network.optimizer, OptimizerType::kSgd);
  EXPECT_DOUBLE_EQ(config->network.norm_grad, 0);
  EXPECT_DOUBLE_EQ(config->network.avg_spike_init, 1);  // reference default
  EXPECT_EQ(config->input_shape, (SampleShape{3, 32, 32}));
  std::map<std::string, const LayerConfig*> by_name;
  for (const LayerConfig& layer : config->layers) by_name[layer.name] = &layer;
  EXPECT_EQ(by_name.at("dropout_1")->type, LayerType::kDropout);
  EXPECT_FLOAT_EQ(by_name.at("dropout_1")->p, 0.1f);
  EXPECT_EQ(by_name.at("dropout_1")->out_shape, (SampleShape{128, 16, 16}));
  EXPECT_EQ(by_name.at("dropout_3")->out_shape, (SampleShape{512, 4, 4}));
  EXPECT_EQ(by_name.at("FC_1")->in_shape, (SampleShape{8192}));
  EXPECT_EQ(by_name.at("dropout_4")->out_shape, (SampleShape{2048}));
  EXPECT_EQ(config->layers.back().out_shape, (SampleShape{10}));
}

TEST(ConfigTest, NmnistIsAnEventDataSetWithItsOwnShape) {
  const absl::StatusOr<Config> config = LoadConfigFile("configs/nmnist.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->input_shape, (SampleShape{2, 34, 34}));
  EXPECT_EQ(config->layers[0].out_shape, (SampleShape{12, 32, 32}));
  EXPECT_EQ(config->layers.back().in_shape, (SampleShape{2304}));
  EXPECT_TRUE(IsEventDataset("NMNIST"));
  EXPECT_FALSE(IsEventDataset("FashionMNIST"));
  EXPECT_EQ(DatasetSampleShape("CIFAR100"), (SampleShape{3, 32, 32}));
  EXPECT_TRUE(DatasetSampleShape("Synthetic").empty());
}

TEST(ConfigTest, DvsGestureTrainsOnFewerSteps) {  // §0, §11: its temporal deletion
  const std::string yaml = ReadText("configs/dvs128_gesture.yaml");
  const absl::StatusOr<Config> config = ParseConfig(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->network.t_train, 14);
  EXPECT_EQ(config->network.n_steps, 20);
  EXPECT_EQ(config->input_shape, (SampleShape{2, 128, 128}));
  EXPECT_EQ(config->source_name, "<string>");
}

// §11.1: the reference's CIFAR10-DVS network reads 2x48x48 frames (its 128x128 frames
// resized) and trains on all n_steps = 20 of them; 48 -> 3 after four poolings.
TEST(ConfigTest, Cifar10DvsReadsResizedFrames) {
  const absl::StatusOr<Config> config = ParseConfig(ReadText("configs/cifar10_dvs.yaml"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->network.n_steps, 20);
  EXPECT_EQ(config->network.t_train, 20);
  EXPECT_EQ(config->input_shape, (SampleShape{2, 48, 48}));
  EXPECT_EQ(config->layers.size(), 21u);
  EXPECT_EQ(config->layers.back().out_shape, (SampleShape{10}));
  const absl::StatusOr<Config> fewer = ParseConfig(
      absl::StrReplaceAll(ReadText("configs/cifar10_dvs.yaml"),
                          {{"  n_steps: 20\n", "  n_steps: 20\n  t_train: 14\n"}}));
  ASSERT_FALSE(fewer.ok());  // no temporal deletion for CIFAR10-DVS (§0)
  EXPECT_NE(fewer.status().message().find("t_train"), std::string::npos)
      << fewer.status();
}

TEST(ConfigTest, OptionalKeysOverrideDefaults) {
  const absl::StatusOr<Config> config = ParseConfig(testing::FashionMnistWith({
      {"  tau_grad: 2.5\n",
       "  tau_grad: 2.5\n  backend: python\n  loss_reverse: false\n  norm_grad: 0\n"
       "  max_dudt_inv: 1000\n  encoding: TTFS\n  forward_type: nonleaky\n"
       "  weight_norm_backward: exact\n  amp: false\n  t_train: 5\n"
       "  input_shape: [1, 28, 28]\n  data_limit: 300\n  progress_every: 0\n"},
      {"  loss: \"count\"", "  loss: TET"},
      {"  optimizer: \"AdamW\"", "  optimizer: Adam"},
      {"  pooling_type: \"adjusted_avg\"", "  pooling_type: max"},
  }));
  ASSERT_TRUE(config.ok()) << config.status();
  const NetworkConfig& n = config->network;
  EXPECT_EQ(n.backend, BackendChoice::kCpu);  // "python" is the reference's CPU name
  EXPECT_FALSE(n.loss_reverse);
  EXPECT_DOUBLE_EQ(n.norm_grad, 0);
  EXPECT_DOUBLE_EQ(n.max_dudt_inv, 1000);
  EXPECT_EQ(n.encoding, Encoding::kTtfs);
  EXPECT_EQ(n.forward_type, ForwardType::kNonleaky);
  EXPECT_EQ(n.weight_norm_backward, WeightNormBackward::kExact);
  EXPECT_EQ(n.loss, LossType::kTet);
  EXPECT_EQ(n.optimizer, OptimizerType::kAdam);
  EXPECT_EQ(n.pooling_type, PoolingType::kMax);
  EXPECT_EQ(n.data_limit, 300);
  EXPECT_EQ(n.progress_every, 0);
}

TEST(ConfigTest, StringPairsAsInTheReference) {  // layers/functions.py readConfig
  const absl::StatusOr<Config> config = ParseConfig(testing::FashionMnistWith({
      {"    kernel_size: 5\n    padding: 2\n    threshold: 1\n\n  pooling_1",
       "    kernel_size: \"(3, 5)\"\n    padding: (1,2)\n    threshold: 1\n\n  "
       "pooling_1"},
  }));
  ASSERT_TRUE(config.ok()) << config.status();
  const LayerConfig& conv = config->layers[0];
  EXPECT_EQ(conv.kernel_size, (std::array<int64_t, 2>{3, 5}));
  EXPECT_EQ(conv.padding, (std::array<int64_t, 2>{1, 2}));
  EXPECT_EQ(conv.out_shape, (SampleShape{32, 28, 28}));
}

TEST(ConfigTest, StrideAndDilationShapes) {
  // (28 + 2*1 - 2*(3-1) - 1) / 2 + 1 = 13
  const absl::StatusOr<Config> config = ParseConfig(testing::FashionMnistWith({
      {"    kernel_size: 5\n    padding: 2\n    threshold: 1\n\n  pooling_1",
       "    kernel_size: 3\n    padding: 1\n    stride: 2\n    dilation: 2\n"
       "    threshold: 0.5\n\n  pooling_1"},
      {"    n_inputs: 3136", "    n_inputs: 576"},  // 64x3x3
  }));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->layers[0].out_shape, (SampleShape{32, 13, 13}));
  EXPECT_FLOAT_EQ(config->layers[0].threshold, 0.5f);
  EXPECT_EQ(config->layers[1].out_shape, (SampleShape{32, 6, 6}));  // floor(13/2)
  EXPECT_EQ(config->layers[3].out_shape, (SampleShape{64, 3, 3}));
}

TEST(ConfigTest, SyntheticDataTakesInputShape) {
  const absl::StatusOr<Config> config = ParseConfig(R"(Network:
  epochs: 1
  batch_size: 4
  n_steps: 5
  dataset: Synthetic
  input_shape: [100]
  optimizer: SGD
  lr: 0.1
  loss: kernel
  gradient_type: original
  n_class: 3
  tau_m: 5
  tau_s: 3
Layers:
  hidden:
    type: linear
    n_inputs: 100
    n_outputs: 20
    threshold: 1
  drop:
    type: dropout
  out:
    type: linear
    n_inputs: 20
    n_outputs: 3
    threshold: 1
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->input_shape, (SampleShape{100}));
  EXPECT_FLOAT_EQ(config->layers[1].p, 0.5f);  // reference default
  EXPECT_EQ(config->layers[1].out_shape, (SampleShape{20}));
  EXPECT_EQ(config->network.gradient_type, GradientType::kOriginal);
}

TEST(ConfigTest, EnumNames) {
  EXPECT_EQ(LayerTypeName(LayerType::kConv), "conv");
  EXPECT_EQ(LayerTypeName(LayerType::kDropout), "dropout");
  EXPECT_EQ(PoolingTypeName(PoolingType::kAdjustedAvg), "adjusted_avg");
  EXPECT_EQ(LossTypeName(LossType::kTet), "TET");
  EXPECT_EQ(OptimizerTypeName(OptimizerType::kAdamW), "AdamW");
  EXPECT_EQ(ForwardTypeName(ForwardType::kNonleaky), "nonleaky");
  EXPECT_EQ(GradientTypeName(GradientType::kExponential), "exponential");
  EXPECT_EQ(BackendChoiceName(BackendChoice::kCpu), "cpu");
  EXPECT_EQ(EncodingName(Encoding::kNone), "None");
  EXPECT_EQ(WeightNormBackwardName(WeightNormBackward::kExact), "exact");
}

TEST(ConfigTest, MissingFileIsNotFoundNamingThePath) {
  const absl::StatusOr<Config> config = LoadConfigFile("configs/no_such_file.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("configs/no_such_file.yaml"));
}

TEST(ConfigTest, DirectoryIsNotFound) {
  const absl::StatusOr<Config> config = LoadConfigFile("configs");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("\"configs\""));
}

TEST(ConfigTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  const std::string path =
      (std::filesystem::temp_directory_path() / "edbp_config_test_unreadable.yaml")
          .string();
  { std::ofstream(path) << testing::kFashionMnist; }
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  const absl::StatusOr<Config> config = LoadConfigFile(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

TEST(ConfigTest, SyntaxErrorInFileNamesThePath) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "edbp_config_test_syntax.yaml").string();
  { std::ofstream(path) << "Network:\n  epochs: [1\n"; }
  const absl::StatusOr<Config> config = LoadConfigFile(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path + ":"));
}

TEST(ConfigTest, ErrorLinesHelperSplitsLines) {
  EXPECT_THAT(testing::ErrorLines("Network: {}\nLayers: {}\nLayers: {}\n"),
              ::testing::Contains("Layers: duplicate section (first at line 2)"));
  EXPECT_THAT(testing::ErrorLines("Network: 1\nLayers: []\n"),
              ElementsAre("Network: expected a map, got \"1\"",
                          "Layers: expected a map, got a sequence"));
}

}  // namespace
}  // namespace edbp::config

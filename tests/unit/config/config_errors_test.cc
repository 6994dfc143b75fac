// Bad configs: each error names its field path and says what was expected and what
// was found; all errors of a file come back together, one per line.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/config/test_configs.h"

namespace edbp::config {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::ErrorLines;
using testing::FashionMnistWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

TEST(ConfigErrorsTest, UnknownLayerType) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith(
          {{"  conv_1:\n    type: \"conv\"", "  conv_1:\n    type: \"convv\""}})),
      ElementsAre("Layers.conv_1.type: unknown layer type \"convv\"; expected one "
                  "of conv, linear, pooling, dropout, residual; did you mean conv?"));
}

// Issue 17: a config of 100,000 layers took 2.5 s and +200 MB per validation.
TEST(ConfigErrorsTest, TooManyLayersIsOneErrorBeforeAnyLayerIsRead) {
  std::string layers = "Layers:\n";
  for (int i = 0; i <= kMaxLayers; ++i) {
    layers += "  fc_" + std::to_string(i) + ":\n    type: \"linear\"\n";
  }
  const std::string yaml = FashionMnistWith({});
  const std::string head = yaml.substr(0, yaml.find("Layers:"));
  EXPECT_THAT(ErrorLines(head + layers),
              Contains("Layers: 1001 layers, more than the limit of 1000"));
  EXPECT_THAT(ErrorLines(head + layers), Not(Contains(HasSubstr("Layers.fc_"))));
}

TEST(ConfigErrorsTest, MissingRequiredKey) {
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  lr: 0.0005\n", ""}})),
              ElementsAre("Network.lr: missing required key; expected a number > 0"));
}

TEST(ConfigErrorsTest, WrongType) {
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  n_steps: 5", "  n_steps: abc"}})),
              ElementsAre("Network.n_steps: expected an integer >= 1, got \"abc\""));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  lr: 0.0005", "  lr: \"0.0005\""}})),
      ElementsAre("Network.lr: expected a number > 0, got the string \"0.0005\""));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  epochs: 150", "  epochs: 1.5"}})),
              ElementsAre("Network.epochs: expected an integer >= 1, got \"1.5\""));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  tau_s: 3", "  tau_s: [3]"}})),
              ElementsAre("Network.tau_s: expected a number > 0, got a sequence"));
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  tau_grad: 2.5\n", "  tau_grad: 2.5\n  loss_reverse: maybe\n"}})),
              ElementsAre("Network.loss_reverse: expected true or false, got \"maybe\""));
}

// Issue 19: edbp's Network.progress_every, from 0 to kMaxProgressEvery.
TEST(ConfigErrorsTest, ProgressEveryOutOfRange) {
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  tau_grad: 2.5\n", "  tau_grad: 2.5\n  progress_every: -1\n"}})),
              ElementsAre("Network.progress_every: expected an integer >= 0, got -1"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith(
          {{"  tau_grad: 2.5\n", "  tau_grad: 2.5\n  progress_every: 1000001\n"}})),
      ElementsAre("Network.progress_every: expected at most 1000000 (batches between "
                  "progress records), got 1000001"));
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  tau_grad: 2.5\n", "  tau_grad: 2.5\n  progress_every: 1e99\n"}})),
              ElementsAre(HasSubstr("Network.progress_every: expected an integer >= 0")));
}

TEST(ConfigErrorsTest, LinearInputsMustMatchFlattenedShape) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    n_inputs: 3136", "    n_inputs: 3000"}})),
      ElementsAre(
          "Layers.FC_1.n_inputs: expected 3136 (64x7x7 from pooling_2), got 3000"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    n_inputs: 1024", "    n_inputs: 1000"}})),
      ElementsAre("Layers.output.n_inputs: expected 1024 (from FC_1), got 1000"));
}

TEST(ConfigErrorsTest, FirstLinearLayerCountsFromTheInput) {
  const std::string network(testing::kFashionMnist);
  const std::string yaml = network.substr(0, network.find("Layers:")) +
                           "Layers:\n  output:\n    type: linear\n    n_inputs: 700\n"
                           "    n_outputs: 10\n    threshold: 1\n";
  EXPECT_THAT(
      ErrorLines(yaml),
      ElementsAre("Layers.output.n_inputs: expected 784 (1x28x28 from the input), "
                  "got 700"));
}

TEST(ConfigErrorsTest, TauMEqualsTauS) {  // §0
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  tau_s: 3", "  tau_s: 5"}})),
              ElementsAre("Network.tau_m: expected a value different from tau_s (theta_m "
                          "!= theta_s, ALGORITHM.md §0), got tau_m = tau_s = 5"));
}

TEST(ConfigErrorsTest, NonleakyWithOriginalGradient) {  // §1
  EXPECT_THAT(
      ErrorLines(
          FashionMnistWith({{"  gradient_type: \"exponential\"",
                             "  gradient_type: original\n  forward_type: nonleaky"}})),
      ElementsAre("Network.forward_type: expected leaky with gradient_type original "
                  "(nonleaky + original is invalid, ALGORITHM.md §1), got nonleaky"));
}

TEST(ConfigErrorsTest, ExponentialGradientNeedsTauGrad) {  // §1
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  tau_grad: 2.5\n", ""}})),
              ElementsAre("Network.tau_grad: missing required key; expected a number > 0 "
                          "(gradient_type exponential needs it, ALGORITHM.md §1)"));
}

TEST(ConfigErrorsTest, CountLossNeedsTargets) {  // §8
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  desired_count: 5\n", ""}, {"  undesired_count: 1\n", ""}})),
              ElementsAre(StartsWith("Network.desired_count: missing required key; "
                                     "expected a number >= 0 (loss count needs it"),
                          StartsWith("Network.undesired_count: missing required key")));
}

TEST(ConfigErrorsTest, LastLayerMustBeLinear) {  // §5
  EXPECT_THAT(
      ErrorLines(std::string(testing::kFashionMnist) + "\n  drop:\n    type: dropout\n"),
      ElementsAre("Layers.drop.type: expected linear for the last layer (ALGORITHM.md "
                  "§5), got dropout"));
}

TEST(ConfigErrorsTest, OutputsMustEqualNClass) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  n_class: 10", "  n_class: 12"}})),
      ElementsAre("Layers.output.n_outputs: expected 12 (Network.n_class), got 10"));
}

TEST(ConfigErrorsTest, NegativeOrZeroSize) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    out_channels: 32", "    out_channels: -3"}})),
      ElementsAre("Layers.conv_1.out_channels: expected an integer >= 1, got -3"));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  batch_size: 50", "  batch_size: 0"}})),
              ElementsAre("Network.batch_size: expected an integer >= 1, got 0"));
  EXPECT_THAT(
      ErrorLines(
          FashionMnistWith({{"    padding: 2\n    threshold: 1\n\n  pooling_1",
                             "    padding: -1\n    threshold: 1\n\n  pooling_1"}})),
      ElementsAre("Layers.conv_1.padding: expected an integer >= 0 or \"(h, w)\" with h, "
                  "w >= 0, got -1"));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  lr: 0.0005", "  lr: -0.1"}})),
              ElementsAre("Network.lr: expected a number > 0, got -0.1"));
}

TEST(ConfigErrorsTest, UnknownOptimizer) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  optimizer: \"AdamW\"", "  optimizer: RMSprop"}})),
      ElementsAre("Network.optimizer: unknown optimizer \"RMSprop\"; expected one "
                  "of SGD, Adam, AdamW"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  optimizer: \"AdamW\"", "  optimizer: adamw"}})),
      ElementsAre(HasSubstr("did you mean AdamW?")));
}

TEST(ConfigErrorsTest, UnknownEnumValuesListTheAllowedOnes) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  loss: \"count\"", "  loss: \"mse\""}})),
      ElementsAre(
          "Network.loss: unknown loss \"mse\"; expected one of count, kernel, TET"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith(
          {{"  pooling_type: \"adjusted_avg\"", "  pooling_type: mean"}})),
      ElementsAre("Network.pooling_type: unknown pooling type \"mean\"; expected one of "
                  "avg, max, adjusted_avg"));
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  tau_grad: 2.5\n", "  tau_grad: 2.5\n  backend: tpu\n"}})),
              ElementsAre(StartsWith("Network.backend: unknown backend \"tpu\"; expected "
                                     "one of auto, cpu, cuda, python")));
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  dataset: \"FashionMNIST\"", "  dataset: \"DVSLip\""}})),
              ElementsAre("Network.dataset: unknown data set \"DVSLip\"; expected "
                          "one of MNIST, FashionMNIST, CIFAR10, CIFAR100, NMNIST, "
                          "DVS128Gesture, CIFAR10DVS, SMNIST, Synthetic"));
}

TEST(ConfigErrorsTest, KernelLargerThanInput) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    out_channels: 64\n    kernel_size: 5",
                                    "    out_channels: 64\n    kernel_size: 19"}})),
      ElementsAre("Layers.conv_2.kernel_size: expected a kernel of at most 18x18 (the "
                  "14x14 input from pooling_1 padded by 2x2), got 19x19"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith(
          {{"  pooling_2:\n    type: \"pooling\"\n    kernel_size: 2",
            "  pooling_2:\n    type: \"pooling\"\n    kernel_size: 15"}})),
      ElementsAre("Layers.pooling_2.kernel_size: expected at most 14x14 (the 64x14x14 "
                  "input from conv_2), got 15x15"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    out_channels: 64\n    kernel_size: 5",
                                    "    out_channels: 64\n    kernel_size: 5\n"
                                    "    dilation: 5"}})),
      ElementsAre("Layers.conv_2.kernel_size: expected a kernel spanning at most 18x18 "
                  "(the 14x14 input from pooling_1 padded by 2x2), got 5x5 with dilation "
                  "5x5 (spans 21x21)"));
}

TEST(ConfigErrorsTest, ConvNeedsAnImageInput) {
  const std::string yaml = std::string(testing::kFashionMnist) +
                           "\n  conv_9:\n    type: conv\n    in_channels: 10\n"
                           "    out_channels: 10\n    kernel_size: 1\n    threshold: 1\n";
  EXPECT_THAT(ErrorLines(yaml),
              UnorderedElementsAre(
                  "Layers.conv_9: expected a [C, H, W] input for a conv layer, got [10] "
                  "from output",
                  "Layers.conv_9.type: expected linear for the last layer (ALGORITHM.md "
                  "§5), got conv"));
}

TEST(ConfigErrorsTest, YamlSyntaxErrorHasLineAndColumn) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  lr: 0.0005\n", "  lr: 0.0005: 3\n"}})),
      ElementsAre(AllOf(StartsWith("test.yaml:9:"), HasSubstr("illegal map value"))));
  EXPECT_THAT(ErrorLines("Network:\n  epochs: 1\n\tlr: 3\n"),
              ElementsAre(StartsWith("test.yaml:3:1: ")));
}

TEST(ConfigErrorsTest, EmptyFile) {
  for (const std::string yaml : {"", "\n\n", "# only a comment\n", "---\n", "~\n"}) {
    EXPECT_THAT(ErrorLines(yaml),
                ElementsAre("test.yaml: empty config; expected a map with Network and "
                            "Layers sections"))
        << "for \"" << yaml << "\"";
  }
}

TEST(ConfigErrorsTest, NotAMapOrSeveralDocuments) {
  EXPECT_THAT(
      ErrorLines("- 1\n- 2\n"),
      ElementsAre("test.yaml: expected a map with Network and Layers sections, got "
                  "a sequence"));
  EXPECT_THAT(ErrorLines(std::string(testing::kFashionMnist) + "---\nNetwork: {}\n"),
              ElementsAre("test.yaml: expected one YAML document, got 2"));
}

// Issue 17, found by the config fuzzer: yaml-cpp 0.7's LoadAll never returns on a ','
// that begins a document (it makes empty documents without end); the config reader
// must answer at once, with an error, and without memory growing.
TEST(ConfigErrorsTest, ACommaThatBeginsADocumentIsAnErrorNotAHang) {
  for (const std::string& yaml :
       {std::string(","), std::string(", written out in Layers: (edbp rejects"),
        std::string("- a\n,"), std::string(testing::kFashionMnist) + "---\n,\n"}) {
    SCOPED_TRACE(yaml);
    const std::vector<std::string> errors = ErrorLines(yaml);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_THAT(errors[0], HasSubstr("expected one YAML document, got more than 16"));
  }
}

TEST(ConfigErrorsTest, MissingSections) {
  EXPECT_THAT(ErrorLines("Network:\n  epochs: 1\n"),
              Contains("Layers: missing required section"));
  EXPECT_THAT(ErrorLines("Layers:\n  output:\n    type: linear\n"),
              Contains("Network: missing required section"));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"Layers:", "Layer:"}})),
              UnorderedElementsAre("Layer: unknown key; did you mean Layers?",
                                   "Layers: missing required section"));
}

TEST(ConfigErrorsTest, UnknownKeySuggestsTheClosest) {
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"    kernel_size: 5\n    padding: 2\n    "
                                            "threshold: 1\n\n  pooling_1",
                                            "    kernal_size: 5\n    padding: 2\n    "
                                            "threshold: 1\n\n  pooling_1"}})),
              UnorderedElementsAre(
                  "Layers.conv_1.kernal_size: unknown key; did you mean kernel_size?",
                  StartsWith("Layers.conv_1.kernel_size: missing required key")));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  tau_grad: 2.5", "  tau_gard: 2.5"}})),
              Contains("Network.tau_gard: unknown key; did you mean tau_grad?"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  pooling_1:\n    type: \"pooling\"",
                                    "  pooling_1:\n    type: \"pooling\"\n"
                                    "    threshold: 1"}})),
      ElementsAre("Layers.pooling_1.threshold: unknown key; expected one of type, "
                  "kernel_size (keys of a pooling layer)"));
}

TEST(ConfigErrorsTest, SeveralErrorsAllReported) {
  const std::vector<std::string> lines = ErrorLines(FashionMnistWith({
      {"  lr: 0.0005", "  lr: -1"},
      {"  optimizer: \"AdamW\"", "  optimizer: adamw"},
      {"    in_channels: 32", "    in_channels: 16"},
      {"    n_outputs: 1024\n    threshold: 1\n", "    n_outputs: 1024\n"},
  }));
  EXPECT_THAT(lines,
              UnorderedElementsAre(
                  "Network.lr: expected a number > 0, got -1",
                  "Network.optimizer: unknown optimizer \"adamw\"; expected one of SGD, "
                  "Adam, AdamW; did you mean AdamW?",
                  "Layers.conv_2.in_channels: expected 32 (channels of 32x14x14 from "
                  "pooling_1), got 16",
                  "Layers.FC_1.threshold: missing required key; expected a number > 0"));
}

TEST(ConfigErrorsTest, MissingThreshold) {
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"    n_outputs: 10\n    threshold: 1\n", "    n_outputs: 10\n"}})),
              ElementsAre("Layers.output.threshold: missing required key; expected a "
                          "number > 0"));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"    n_outputs: 10\n    threshold: 1\n",
                                            "    n_outputs: 10\n    threshold: 0\n"}})),
              ElementsAre("Layers.output.threshold: expected a number > 0, got 0"));
}

TEST(ConfigErrorsTest, ConvInChannelsMismatch) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    in_channels: 1", "    in_channels: 3"}})),
      ElementsAre("Layers.conv_1.in_channels: expected 1 (channels of 1x28x28 from "
                  "the input), got 3"));
}

TEST(ConfigErrorsTest, BadStringPair) {
  EXPECT_THAT(
      ErrorLines(
          FashionMnistWith({{"    out_channels: 32\n    kernel_size: 5",
                             "    out_channels: 32\n    kernel_size: \"(3, x)\""}})),
      ElementsAre(
          "Layers.conv_1.kernel_size: expected an integer >= 1 or \"(h, w)\" with "
          "h, w >= 1, got \"(3, x)\""));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"    out_channels: 32\n    kernel_size: 5",
                                    "    out_channels: 32\n    kernel_size: \"5\""}})),
      ElementsAre(HasSubstr("got the string \"5\"")));
}

TEST(ConfigErrorsTest, TTrainMustEqualNStepsForStaticData) {  // §0
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  n_steps: 5\n", "  n_steps: 5\n  t_train: 3\n"}})),
      ElementsAre("Network.t_train: expected 5 (= n_steps: FashionMNIST is a static "
                  "data set, ALGORITHM.md §0), got 3"));
}

TEST(ConfigErrorsTest, TTrainOfEventDataFollowsTheirTemporalDeletion) {  // §0, §11
  // N-MNIST has none: t_train must be n_steps.
  std::ifstream nmnist("configs/nmnist.yaml");
  std::stringstream text;
  text << nmnist.rdbuf();
  std::string yaml = text.str();
  yaml.replace(yaml.find("  n_steps: 30\n"), 14, "  n_steps: 30\n  t_train: 20\n");
  EXPECT_THAT(
      ErrorLines(yaml),
      ElementsAre("Network.t_train: expected 30 (= n_steps: NMNIST samples have "
                  "n_steps frames and no temporal deletion, ALGORITHM.md §0), got "
                  "20"));
  // DVS128 Gesture keeps t_train of its n_steps frames: at most n_steps.
  std::ifstream gesture("configs/dvs128_gesture.yaml");
  std::stringstream g;
  g << gesture.rdbuf();
  yaml = g.str();
  yaml.replace(yaml.find("  t_train: 14\n"), 14, "  t_train: 21\n");
  EXPECT_THAT(
      ErrorLines(yaml),
      ElementsAre("Network.t_train: expected at most n_steps (20): training keeps "
                  "t_train of the 20 frames (ALGORITHM.md §11), got 21"));
}

TEST(ConfigErrorsTest, UnsupportedReferenceFeatures) {
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  tau_grad: 2.5\n", "  tau_grad: 2.5\n  amp: true\n"}})),
              ElementsAre(StartsWith("Network.amp: expected false, got true")));
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  tau_grad: 2.5\n",
                                            "  tau_grad: 2.5\n  model_import: "
                                            "\"networks.resnet\"\n"}})),
              ElementsAre("Network.model_import: not supported: write the network out in "
                          "Layers"));
}

TEST(ConfigErrorsTest, InputShape) {
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  n_steps: 5\n", "  n_steps: 5\n  input_shape: [1, 32, 32]\n"}})),
              ElementsAre("Network.input_shape: expected [1, 28, 28] (the FashionMNIST "
                          "sample shape), got [1, 32, 32]"));
  EXPECT_THAT(
      ErrorLines(
          FashionMnistWith({{"  dataset: \"FashionMNIST\"", "  dataset: Synthetic"}})),
      ElementsAre(StartsWith("Network.input_shape: missing required key; expected "
                             "[C, H, W] or [N]")));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  dataset: \"FashionMNIST\"",
                                    "  dataset: Synthetic\n  input_shape: [1, 28]"}})),
      ElementsAre("Network.input_shape: expected [C, H, W] or [N], got [1, 28]"));
}

TEST(ConfigErrorsTest, PoolingLayersNeedPoolingType) {
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  pooling_type: \"adjusted_avg\"\n", ""}})),
      ElementsAre("Network.pooling_type: missing required key; expected one of avg, "
                  "max, adjusted_avg (the network has pooling layers: pooling_1, "
                  "pooling_2)"));
}

TEST(ConfigErrorsTest, DuplicateNames) {
  EXPECT_THAT(ErrorLines(FashionMnistWith({{"  pooling_2:", "  pooling_1:"}})),
              Contains("Layers.pooling_1: duplicate layer name (first at line 31)"));
  EXPECT_THAT(
      ErrorLines(FashionMnistWith({{"  epochs: 150\n", "  epochs: 150\n  epochs: 2\n"}})),
      ElementsAre("Network.epochs: duplicate key (first at line 2)"));
}

TEST(ConfigErrorsTest, LayerMustBeAMapWithAType) {
  EXPECT_THAT(ErrorLines(std::string(testing::kFashionMnist) + "  extra: 3\n"),
              ElementsAre("Layers.extra: expected a map of layer settings, got \"3\""));
  EXPECT_THAT(ErrorLines(FashionMnistWith(
                  {{"  pooling_1:\n    type: \"pooling\"\n", "  pooling_1:\n"}})),
              ElementsAre("Layers.pooling_1.type: missing required key; expected one of "
                          "conv, linear, pooling, dropout, residual"));
}

}  // namespace
}  // namespace edbp::config

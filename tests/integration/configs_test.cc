// Every config in configs/ runs: --validate, and one --inspect-step on synthetic data of
// its shape (the data sets other than Fashion-MNIST are not installed here; event data
// sets get event frames [T, 2, 34, 34], SMNIST 28 columns), whose outputs and gradients
// must be complete and finite. Built twice: the fast configs (label integration) and
// the large CIFAR/ResNet ones (label slow), chosen by EDBP_CONFIGS; the slow build also
// trains the configs in EDBP_TRAIN_CONFIGS for a few batches.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "gtest/gtest.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;

int RunTrain(const std::string& args, std::string* output) {
  const std::string cmd = std::string(EDBP_TRAIN_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class ConfigRuns : public ::testing::TestWithParam<std::string> {};

TEST_P(ConfigRuns, ValidatesAndRunsOneStepOnSyntheticData) {
  const std::string path = "configs/" + GetParam() + ".yaml";
  auto config = config::LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  std::string out;
  ASSERT_EQ(RunTrain(path + " --validate", &out), 0) << out;
  const std::string step =
      (fs::temp_directory_path() / ("edbp_configs_" + GetParam() + ".safetensors"))
          .string();
  out.clear();
  // A small batch keeps the large networks (CIFAR, ResNet) to minutes on 2 cores.
  const int64_t batch = std::min<int64_t>(config->network.batch_size, EDBP_BATCH);
  ASSERT_EQ(
      RunTrain(path + " --synthetic-data --batch-size " + std::to_string(batch) +
                   " --data-limit " + std::to_string(batch) + " --inspect-step " + step,
               &out),
      0)
      << out;
  auto st = ReadSafeTensors(step);
  ASSERT_TRUE(st.ok()) << st.status();
  fs::remove(step);
  const config::NetworkConfig& n = config->network;
  // The inspected step has no training transform: event samples keep all n_steps frames
  // (DVS128 Gesture's temporal deletion to t_train is part of the transform, §11).
  const int64_t steps = config::IsEventDataset(n.dataset) ? n.n_steps : n.t_train;
  EXPECT_EQ(st->tensors.at("outputs").shape, (Shape{steps, batch, n.n_class}));
  EXPECT_TRUE(std::isfinite(st->tensors.at("loss").data[0]));
  int grads = 0;
  for (const auto& [name, t] : st->tensors) {
    if (name.size() < 5 || name.substr(name.size() - 5) != ".grad") continue;
    ++grads;
    for (float v : t.data) ASSERT_TRUE(std::isfinite(v)) << name;
  }
  int expected = 0;
  for (const config::LayerConfig& l : config->layers) {
    if (l.type == config::LayerType::kConv || l.type == config::LayerType::kLinear) {
      expected += 3;
    } else if (l.type == config::LayerType::kResidual) {
      expected += l.stride[0] != 1 || l.in_channels != l.out_channels ? 9 : 6;
    }
  }
  EXPECT_EQ(grads, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ConfigRuns,
    ::testing::ValuesIn(std::vector<std::string>(absl::StrSplit(EDBP_CONFIGS, ','))));

// §0: event frames are n_steps long; with no temporal deletion for N-MNIST, a shorter
// t_train is refused (by the config's validation).
TEST(EventConfig, NmnistTrainingStepsMustBeItsFrames) {
  std::ifstream in("configs/nmnist.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), {});
  const std::string steps = "  n_steps: 30\n";
  ASSERT_NE(yaml.find(steps), std::string::npos);
  yaml.replace(yaml.find(steps), steps.size(), steps + "  t_train: 20\n");
  const fs::path path = fs::temp_directory_path() /
                        ("edbp_nmnist_t_train_" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << yaml;
  std::string out;
  EXPECT_EQ(RunTrain(path.string() +
                         " --synthetic-data --data-limit 2 --batch-size 2 "
                         "--inspect-step " +
                         path.string() + ".st",
                     &out),
            1);
  EXPECT_NE(out.find("Network.t_train: expected 30 (= n_steps: NMNIST samples have "
                     "n_steps frames and no temporal deletion, ALGORITHM.md §0), got 20"),
            std::string::npos)
      << out;
  fs::remove(path);
}

#ifdef EDBP_TRAIN_CONFIGS
// The configs named in EDBP_TRAIN_CONFIGS (the CIFAR-10 reference network) train end to
// end on synthetic data of their shape: init (§7), two batches of 4, the test pass, the
// epoch's metrics and the checkpoints.
class ConfigTrains : public ::testing::TestWithParam<std::string> {};

TEST_P(ConfigTrains, TrainsAFewBatchesOnSyntheticDataAndWritesMetrics) {
  const fs::path dir = fs::temp_directory_path() / ("edbp_configs_train_" + GetParam() +
                                                    "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string metrics = (dir / "metrics.jsonl").string();
  std::string out;
  ASSERT_EQ(
      RunTrain("configs/" + GetParam() +
                   ".yaml --synthetic-data --batch-size 4 --data-limit 8 --epochs 1 "
                   "--progress-every 1 --out-dir " +
                   (dir / "run").string() + " --metrics-jsonl " + metrics,
               &out),
      0)
      << out;
  std::ifstream in(metrics);
  std::string line, epoch_line;
  int progress = 0, test_progress = 0;
  while (std::getline(in, line)) {
    if (line.find("\"type\":\"epoch\"") != std::string::npos) epoch_line = line;
    progress += line.find("\"type\":\"progress\"") != std::string::npos;
    test_progress += line.find("\"phase\":\"test\"") != std::string::npos;
  }
  // 8 samples in batches of 4, of the training pass and of the test pass.
  EXPECT_EQ(progress, 4) << out;
  EXPECT_EQ(test_progress, 2) << out;
  ASSERT_FALSE(epoch_line.empty()) << out;
  EXPECT_NE(epoch_line.find("\"train_samples\":8"), std::string::npos) << epoch_line;
  EXPECT_NE(epoch_line.find("\"test_samples\":8"), std::string::npos) << epoch_line;
  EXPECT_NE(epoch_line.find("\"epoch\":1"), std::string::npos) << epoch_line;
  EXPECT_EQ(epoch_line.find("null"), std::string::npos) << epoch_line;  // finite numbers
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoint_last.safetensors"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Configs, ConfigTrains,
                         ::testing::ValuesIn(std::vector<std::string>(
                             absl::StrSplit(EDBP_TRAIN_CONFIGS, ','))));
#endif  // EDBP_TRAIN_CONFIGS

}  // namespace
}  // namespace edbp

namespace edbp {
namespace {

// §0, §11: a DVS128 Gesture run trains on t_train frames (the temporal deletion of its
// training transform) and tests on all n_steps: an epoch of a small network on
// synthetic frames runs through both, and its record counts every sample.
TEST(EventConfig, DvsGestureTrainsOnTTrainFramesAndTestsOnNSteps) {
  std::ifstream in("configs/dvs128_gesture.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), {});
  // A small network: the first pooling shrinks 128x128 to 16x16 before any conv.
  const size_t layers = yaml.find("Layers:");
  ASSERT_NE(layers, std::string::npos);
  yaml = yaml.substr(0, layers) +
         "Layers:\n  pool_0:\n    type: pooling\n    kernel_size: 8\n"
         "  conv_1:\n    type: conv\n    in_channels: 2\n    out_channels: 4\n"
         "    kernel_size: 3\n    padding: 1\n    threshold: 1\n"
         "  pool_1:\n    type: pooling\n    kernel_size: 4\n"
         "  output:\n    type: linear\n    n_inputs: 64\n    n_outputs: 11\n"
         "    threshold: 1\n";
  const fs::path dir =
      fs::temp_directory_path() / ("edbp_gesture_t_train_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "g.yaml") << yaml;
  std::string out;
  ASSERT_EQ(RunTrain((dir / "g.yaml").string() +
                         " --synthetic-data --data-limit 16 --epochs 1 --notensorboard"
                         " --out-dir " +
                         (dir / "run").string() + " --metrics-jsonl " +
                         (dir / "m.jsonl").string(),
                     &out),
            0)
      << out;
  std::ifstream metrics(dir / "m.jsonl");
  std::string text((std::istreambuf_iterator<char>(metrics)), {});
  EXPECT_NE(text.find("\"train_samples\":16"), std::string::npos) << text;
  EXPECT_NE(text.find("\"test_samples\":16"), std::string::npos) << text;
  fs::remove_all(dir);
}

// §11.1: a CIFAR10-DVS run reads 2x128x128 synthetic frames resized to 2x48x48 (the
// shape its config declares), with the training transform in training: an epoch of a
// small network runs and its record counts every sample.
TEST(EventConfig, Cifar10DvsTrainsOnResizedFrames) {
  std::ifstream in("configs/cifar10_dvs.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), {});
  const size_t layers = yaml.find("Layers:");
  ASSERT_NE(layers, std::string::npos);
  // 48x48 -> 12x12 -> conv -> 3x3: 4 channels of 9.
  yaml = yaml.substr(0, layers) +
         "Layers:\n  pool_0:\n    type: pooling\n    kernel_size: 4\n"
         "  conv_1:\n    type: conv\n    in_channels: 2\n    out_channels: 4\n"
         "    kernel_size: 3\n    padding: 1\n    threshold: 1\n"
         "  pool_1:\n    type: pooling\n    kernel_size: 4\n"
         "  output:\n    type: linear\n    n_inputs: 36\n    n_outputs: 10\n"
         "    threshold: 1\n";
  const fs::path dir =
      fs::temp_directory_path() / ("edbp_cifar10_dvs_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "c.yaml") << yaml;
  std::string out;
  ASSERT_EQ(RunTrain((dir / "c.yaml").string() +
                         " --synthetic-data --data-limit 16 --epochs 1 --notensorboard"
                         " --out-dir " +
                         (dir / "run").string() + " --metrics-jsonl " +
                         (dir / "m.jsonl").string(),
                     &out),
            0)
      << out;
  std::ifstream metrics(dir / "m.jsonl");
  std::string text((std::istreambuf_iterator<char>(metrics)), {});
  EXPECT_NE(text.find("\"train_samples\":16"), std::string::npos) << text;
  EXPECT_NE(text.find("\"test_samples\":16"), std::string::npos) << text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edbp

// Every config in configs/ runs: --validate, and one --inspect-step on synthetic data of
// its shape (the data sets other than Fashion-MNIST are not installed here), whose
// outputs and gradients must be complete and finite. Built twice: the fast configs
// (label integration) and the large CIFAR/ResNet ones (label slow), chosen by
// EDBP_CONFIGS.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
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
      (fs::temp_directory_path() / ("edbp_configs_" + GetParam() + ".safetensors")).string();
  out.clear();
  // A small batch keeps the large networks (CIFAR, ResNet) to minutes on 2 cores.
  const int64_t batch = std::min<int64_t>(config->network.batch_size, EDBP_BATCH);
  ASSERT_EQ(RunTrain(path + " --synthetic-data --batch-size " + std::to_string(batch) +
                         " --data-limit " + std::to_string(batch) + " --inspect-step " + step,
                     &out),
            0)
      << out;
  auto st = ReadSafeTensors(step);
  ASSERT_TRUE(st.ok()) << st.status();
  fs::remove(step);
  const config::NetworkConfig& n = config->network;
  EXPECT_EQ(st->tensors.at("outputs").shape, (Shape{n.t_train, batch, n.n_class}));
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

INSTANTIATE_TEST_SUITE_P(Configs, ConfigRuns,
                         ::testing::ValuesIn(std::vector<std::string>(
                             absl::StrSplit(EDBP_CONFIGS, ','))));

}  // namespace
}  // namespace edbp

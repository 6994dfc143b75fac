// Issue 20: a ResNet checkpoint under the reference model's state_dict keys. The
// expected keys and shapes are written out here from the reference's networks/resnet.py
// (SpikingResNet: conv1 5x5 3->128, three stages of two BasicBlocks at 128, 256, 512
// channels whose first block has a 1x1 downsample, fc 512->10), not derived from edbp.
#include "core/train/reference_names.h"

#include <map>
#include <string>

#include "base/check.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/data_parallel.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/status_macros.h"
#include "tests/temp_dir.h"

namespace edbp::train {
namespace {

// The reference model's parameters: key -> shape.
std::map<std::string, Shape> ReferenceResNetKeys() {
  std::map<std::string, Shape> keys;
  const auto conv = [&keys](const std::string& name, int64_t out, int64_t in, int64_t k) {
    keys[name + ".weight"] = {out, in, k, k};
    keys[name + ".norm_weight"] = {out, 1, 1, 1};
    keys[name + ".norm_bias"] = {out, 1, 1, 1};
  };
  conv("conv1", 128, 3, 5);
  int64_t in = 128;
  for (int stage = 1; stage <= 3; ++stage) {
    const int64_t planes = 64 << stage;  // 128, 256, 512
    for (int block = 0; block < 2; ++block) {
      const std::string b = "layer" + std::to_string(stage) + "." + std::to_string(block);
      conv(b + ".conv1", planes, block == 0 ? in : planes, 3);
      conv(b + ".conv2", planes, planes, 3);
      if (block == 0) conv(b + ".downsample", planes, in, 1);
    }
    in = planes;
  }
  keys["fc.weight"] = {10, 512};
  keys["fc.norm_weight"] = {10, 1};
  keys["fc.norm_bias"] = {10, 1};
  return keys;
}

std::unique_ptr<Network> Make(const std::string& config_path, uint64_t seed) {
  absl::StatusOr<config::Config> config = config::LoadConfigFile(config_path);
  EDBP_CHECK(config.ok()) << config.status();
  absl::StatusOr<kernels::Backend*> cpu = kernels::GetBackend({});
  EDBP_CHECK(cpu.ok());
  absl::StatusOr<std::unique_ptr<Network>> net = Network::Create(*config, *cpu, seed);
  EDBP_CHECK(net.ok()) << net.status();
  return *std::move(net);
}

TEST(ReferenceResNetNames, TheResNetConfigGetsTheReferenceModelsKeysBothWays) {
  testing::TempDir tmp("refnames");
  std::unique_ptr<Network> net = Make("configs/resnet.yaml", 1);
  const std::map<std::string, std::string> names = ReferenceResNetNames(*net);
  EXPECT_EQ(names.size(), 51u);
  EXPECT_EQ(names.at("net.0.weight"), "conv1.weight");
  EXPECT_EQ(names.at("net.1.shortcut.norm_bias"), "layer1.0.downsample.norm_bias");
  EXPECT_EQ(names.at("net.2.conv2.weight"), "layer1.1.conv2.weight");
  EXPECT_EQ(names.at("net.5.conv1.weight"), "layer3.0.conv1.weight");

  // Written: exactly the reference's keys and shapes.
  const std::string path = (tmp / "resnet.safetensors").string();
  ASSERT_OK(SaveCheckpoint(path, *net, nullptr, TrainingState()));
  ASSERT_OK_AND_ASSIGN(const SafeTensors file, ReadSafeTensors(path));
  std::map<std::string, Shape> written;
  for (const auto& [key, t] : file.tensors) written[key] = t.shape;
  EXPECT_EQ(written, ReferenceResNetKeys());

  // Read back into another network (another init): the same parameters.
  std::unique_ptr<Network> other = Make("configs/resnet.yaml", 2);
  ASSERT_OK_AND_ASSIGN(const uint64_t want, ParameterChecksum(net->Parameters()));
  ASSERT_OK_AND_ASSIGN(const uint64_t before, ParameterChecksum(other->Parameters()));
  EXPECT_NE(before, want);
  ASSERT_OK(LoadWeights(path, *other));
  ASSERT_OK_AND_ASSIGN(const uint64_t after, ParameterChecksum(other->Parameters()));
  EXPECT_EQ(after, want);

  // A file under edbp's names (written before this change) still loads.
  SafeTensors old;
  for (const Parameter& p : net->Parameters()) {
    ASSERT_OK_AND_ASSIGN(std::vector<float> values, p.value.ToHost());
    old.tensors[p.name] = {p.value.shape(), std::move(values)};
  }
  const std::string old_path = (tmp / "old.safetensors").string();
  ASSERT_OK(WriteSafeTensors(old_path, old));
  std::unique_ptr<Network> third = Make("configs/resnet.yaml", 3);
  ASSERT_OK(LoadWeights(old_path, *third));
  ASSERT_OK_AND_ASSIGN(const uint64_t loaded, ParameterChecksum(third->Parameters()));
  EXPECT_EQ(loaded, want);

  // A reference key with the wrong shape is named in the error.
  SafeTensors wrong = file;
  wrong.tensors["fc.weight"] = {{10, 256}, std::vector<float>(2560)};
  const std::string wrong_path = (tmp / "wrong.safetensors").string();
  ASSERT_OK(WriteSafeTensors(wrong_path, wrong));
  const absl::Status s = LoadWeights(wrong_path, *third);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("[10,256]"), std::string::npos) << s;
}

TEST(ReferenceResNetNames, PlainNetworksKeepTheirNames) {
  EXPECT_TRUE(ReferenceResNetNames(*Make("configs/small.yaml", 1)).empty());
  EXPECT_TRUE(ReferenceResNetNames(*Make("configs/cifar10.yaml", 1)).empty());
}

}  // namespace
}  // namespace edbp::train

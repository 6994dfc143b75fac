// Checkpoints: a bit-exact round trip of parameters, Adam moments, step count, network
// RNG and training state; weights-only files and the reference fixture; every error
// names the file and the key and leaves the network unchanged; atomic replacement.
#include "core/train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;
using testing::Cpu;
using ::testing::HasSubstr;
using testing::Host;
using testing::MakeTensor;

config::Config LoadConfig(const std::string& path) {
  auto c = config::LoadConfigFile(path);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

std::unique_ptr<Network> Build(const config::Config& c, uint64_t seed) {
  auto net = Network::Create(c, Cpu(), seed);
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(*net);
}

std::unique_ptr<Optimizer> MakeOptimizer(const config::Config& c, Network& net) {
  auto opt = Optimizer::Create(c.network, net.Parameters());
  EXPECT_TRUE(opt.ok()) << opt.status();
  return std::move(*opt);
}

std::vector<uint32_t> Bits(const std::vector<float>& v) {
  std::vector<uint32_t> out;
  out.reserve(v.size());
  for (float f : v) out.push_back(std::bit_cast<uint32_t>(f));
  return out;
}

std::string RngText(std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

// Everything LoadCheckpoint may change in a network: parameter bits and RNG state.
struct NetSnapshot {
  std::vector<std::vector<uint32_t>> params;
  std::string rng;
  bool operator==(const NetSnapshot&) const = default;
};

NetSnapshot Snapshot(Network& net) {
  NetSnapshot s;
  for (const Parameter& p : net.Parameters()) s.params.push_back(Bits(Host(p.value)));
  s.rng = RngText(net.rng());
  return s;
}

// Sets every gradient to known values (different per parameter) and steps.
void StepWithKnownGrads(Optimizer& opt, int steps) {
  for (int s = 0; s < steps; ++s) {
    int index = 0;
    for (Parameter& p : opt.params()) {
      std::vector<float> g(static_cast<size_t>(p.grad.numel()));
      for (size_t j = 0; j < g.size(); ++j) {
        g[j] = 0.01f * static_cast<float>(static_cast<int>(j % 7) - 3) +
               0.001f * static_cast<float>(index + s);
      }
      ASSERT_TRUE(p.grad.CopyFrom(MakeTensor(p.grad.shape(), g)).ok());
      ++index;
    }
    ASSERT_TRUE(opt.Step(0.0005).ok());
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("edbp_ckpt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    small_ = LoadConfig("configs/small.yaml");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  TrainingState State() const {
    TrainingState s;
    s.epoch = 3;
    s.best_test_accuracy = 0.1 + 0.2;  // 0.30000000000000004: needs 17 digits
    s.best_epoch = 2;
    s.seed = 18446744073709551557ull;  // above INT64_MAX
    s.config_text = small_.source_text;
    return s;
  }

  // Writes a weights-only checkpoint of a small network (seed 5) and returns its path.
  std::string WeightsOnly(const std::string& name) {
    auto net = Build(small_, 5);
    std::string path = Path(name);
    EXPECT_TRUE(SaveCheckpoint(path, *net, nullptr, State()).ok());
    return path;
  }

  // Reads `path`, lets `edit` change it and writes it back.
  template <typename Edit>
  void Rewrite(const std::string& path, Edit edit) {
    auto st = ReadSafeTensors(path);
    ASSERT_TRUE(st.ok()) << st.status();
    edit(*st);
    ASSERT_TRUE(WriteSafeTensors(path, *st).ok());
  }

  fs::path dir_;
  config::Config small_;
};

TEST_F(CheckpointTest, RoundTripIsBitExact) {
  auto net = Build(small_, 1);
  auto opt = MakeOptimizer(small_, *net);
  ASSERT_EQ(opt->type(), config::OptimizerType::kAdamW);
  StepWithKnownGrads(*opt, 2);
  ASSERT_EQ(opt->step_count(), 2);
  net->rng().discard(17);  // a state no seed gives directly
  const std::string path = Path("ckpt.safetensors");
  ASSERT_TRUE(SaveCheckpoint(path, *net, opt.get(), State()).ok());

  auto net2 = Build(small_, 99);
  auto opt2 = MakeOptimizer(small_, *net2);
  ASSERT_NE(Snapshot(*net), Snapshot(*net2));
  auto state = LoadCheckpoint(path, *net2, opt2.get());
  ASSERT_TRUE(state.ok()) << state.status();

  EXPECT_EQ(state->epoch, 3);
  EXPECT_EQ(state->best_test_accuracy, 0.1 + 0.2);
  EXPECT_EQ(state->best_epoch, 2);
  EXPECT_EQ(state->seed, 18446744073709551557ull);
  EXPECT_EQ(state->config_text, small_.source_text);
  EXPECT_THAT(state->config_text, HasSubstr("out_channels: 15"));

  const std::vector<Parameter> p1 = net->Parameters(), p2 = net2->Parameters();
  ASSERT_EQ(p1.size(), 12u);
  ASSERT_EQ(p2.size(), 12u);
  for (size_t i = 0; i < p1.size(); ++i) {
    EXPECT_EQ(Bits(Host(p1[i].value)), Bits(Host(p2[i].value))) << p1[i].name;
    const std::vector<float> m = Host(opt->exp_avg(i));
    EXPECT_NE(m, std::vector<float>(m.size(), 0.0f)) << p1[i].name;  // really stepped
    EXPECT_EQ(Bits(m), Bits(Host(opt2->exp_avg(i)))) << p1[i].name;
    EXPECT_EQ(Bits(Host(opt->exp_avg_sq(i))), Bits(Host(opt2->exp_avg_sq(i))))
        << p1[i].name;
  }
  EXPECT_EQ(opt2->step_count(), 2);

  // The dropout generator continues where it was saved.
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(net->rng()(), net2->rng()()) << i;

  // Training on continues identically too.
  StepWithKnownGrads(*opt, 1);
  StepWithKnownGrads(*opt2, 1);
  for (size_t i = 0; i < p1.size(); ++i) {
    EXPECT_EQ(Bits(Host(p1[i].value)), Bits(Host(p2[i].value))) << p1[i].name;
  }
}

TEST_F(CheckpointTest, FileLayout) {
  auto net = Build(small_, 1);
  auto opt = MakeOptimizer(small_, *net);
  StepWithKnownGrads(*opt, 2);
  const std::string path = Path("ckpt.safetensors");
  ASSERT_TRUE(SaveCheckpoint(path, *net, opt.get(), State()).ok());
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();

  EXPECT_EQ(st->tensors.size(), 36u);  // 12 parameters, 2 moments each
  EXPECT_EQ(st->tensors.at("net.4.weight").shape, (Shape{300, 640}));
  EXPECT_EQ(st->tensors.at("net.0.norm_weight").shape, (Shape{15, 1, 1, 1}));
  EXPECT_EQ(st->tensors.at("net.5.norm_bias").shape, (Shape{10, 1}));
  EXPECT_EQ(st->tensors.at("optimizer.exp_avg.net.4.weight").shape, (Shape{300, 640}));
  EXPECT_EQ(st->tensors.at("optimizer.exp_avg_sq.net.2.norm_bias").shape,
            (Shape{40, 1, 1, 1}));

  std::set<std::string> keys;
  for (const auto& [k, v] : st->metadata) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"format", "epoch", "optimizer_step", "optimizer",
                                         "best_test_accuracy", "best_epoch", "seed",
                                         "network_rng", "config"}));
  EXPECT_EQ(st->metadata.at("format"), "edbp-checkpoint-1");
  EXPECT_EQ(st->metadata.at("epoch"), "3");
  EXPECT_EQ(st->metadata.at("optimizer_step"), "2");
  EXPECT_EQ(st->metadata.at("optimizer"), "AdamW");
  EXPECT_EQ(st->metadata.at("best_test_accuracy"), "0.30000000000000004");
  EXPECT_EQ(st->metadata.at("best_epoch"), "2");
  EXPECT_EQ(st->metadata.at("seed"), "18446744073709551557");
  EXPECT_EQ(st->metadata.at("network_rng"), RngText(net->rng()));
  EXPECT_EQ(st->metadata.at("config"), small_.source_text);
}

TEST_F(CheckpointTest, WeightsOnlyCheckpoint) {
  auto source = Build(small_, 5);
  const std::string path = WeightsOnly("weights.safetensors");
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->tensors.size(), 12u);
  EXPECT_EQ(st->metadata.at("optimizer"), "none");
  EXPECT_EQ(st->metadata.at("optimizer_step"), "0");

  // LoadWeights: the parameters, not the RNG.
  auto a = Build(small_, 6);
  const std::string rng_before = RngText(a->rng());
  ASSERT_TRUE(LoadWeights(path, *a).ok());
  EXPECT_EQ(Snapshot(*a).params, Snapshot(*source).params);
  EXPECT_EQ(RngText(a->rng()), rng_before);

  // LoadCheckpoint without an optimizer: parameters and RNG.
  auto b = Build(small_, 7);
  auto state = LoadCheckpoint(path, *b, nullptr);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->epoch, 3);
  EXPECT_EQ(Snapshot(*b), Snapshot(*source));

  // A full checkpoint loads without an optimizer too (e.g. for evaluation).
  auto c = Build(small_, 8);
  auto opt_c = MakeOptimizer(small_, *c);
  StepWithKnownGrads(*opt_c, 1);
  ASSERT_TRUE(SaveCheckpoint(Path("full.safetensors"), *c, opt_c.get(), State()).ok());
  auto d = Build(small_, 9);
  ASSERT_TRUE(LoadCheckpoint(Path("full.safetensors"), *d, nullptr).ok());
  EXPECT_EQ(Snapshot(*d), Snapshot(*c));
}

TEST_F(CheckpointTest, WeightsOnlyCheckpointIntoAnOptimizerIsAnError) {
  const std::string path = WeightsOnly("weights.safetensors");
  auto net = Build(small_, 6);
  auto opt = MakeOptimizer(small_, *net);
  const NetSnapshot before = Snapshot(*net);
  auto state = LoadCheckpoint(path, *net, opt.get());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(state.status().message(), HasSubstr(path));
  EXPECT_THAT(state.status().message(), HasSubstr("optimizer is none"));
  EXPECT_EQ(Snapshot(*net), before);
}

TEST_F(CheckpointTest, LoadWeightsFromTheReferenceFixture) {
  const std::string path = "tests/data/reference-small/init.safetensors";
  auto net = Build(small_, 0);
  ASSERT_TRUE(LoadWeights(path, *net).ok());
  auto st = ReadSafeTensors(path);
  ASSERT_TRUE(st.ok()) << st.status();
  for (const Parameter& p : net->Parameters()) {
    const HostTensor& t = st->tensors.at(p.name);
    EXPECT_EQ(p.value.shape(), t.shape) << p.name;
    EXPECT_EQ(Bits(Host(p.value)), Bits(t.data)) << p.name;
  }
  // The fixture is after the init bisection: g is no longer PyTorch's default 1.
  const std::vector<float> g = Host(net->Parameters()[1].value);
  EXPECT_NE(g, std::vector<float>(g.size(), 1.0f));
}

TEST_F(CheckpointTest, LoadWeightsIgnoresKeysThatAreNotParameters) {
  const std::string path = WeightsOnly("weights.safetensors");
  Rewrite(path, [](SafeTensors& st) {
    st.tensors["net.0.weight.grad"] = {{2}, {1, 2}};  // as in step.safetensors
    st.tensors["optimizer.exp_avg.net.0.weight"] = {{1}, {3}};
    st.tensors["inputs"] = {{1}, {4}};
    st.metadata.clear();
  });
  auto net = Build(small_, 6);
  const absl::Status s = LoadWeights(path, *net);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Snapshot(*net).params, Snapshot(*Build(small_, 5)).params);
}

TEST_F(CheckpointTest, MissingFile) {
  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  const std::string path = Path("nope.safetensors");
  auto state = LoadCheckpoint(path, *net, nullptr);
  EXPECT_EQ(state.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(state.status().message(), HasSubstr(path));
  const absl::Status s = LoadWeights(path, *net);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_EQ(Snapshot(*net), before);
}

TEST_F(CheckpointTest, TruncatedFile) {
  const std::string path = WeightsOnly("weights.safetensors");
  fs::resize_file(path, fs::file_size(path) / 2);
  auto net = Build(small_, 1);
  auto opt = MakeOptimizer(small_, *net);
  const NetSnapshot before = Snapshot(*net);
  auto state = LoadCheckpoint(path, *net, opt.get());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(state.status().message(), HasSubstr(path));
  EXPECT_EQ(LoadWeights(path, *net).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Snapshot(*net), before);
  EXPECT_EQ(opt->step_count(), 0);
}

// CheckWeightsFit answers what LoadWeights would, from the config alone (edbp-server's
// check of init_from at submission): the same errors, and no network to load into.
TEST_F(CheckpointTest, CheckWeightsFitAgreesWithLoadWeights) {
  const std::string path = WeightsOnly("weights.safetensors");
  EXPECT_TRUE(CheckWeightsFit(path, small_).ok());
  const config::Config fashion = LoadConfig("configs/fashion_mnist.yaml");
  const absl::Status other = CheckWeightsFit(path, fashion);
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.message(),
              HasSubstr("net.0.weight: the checkpoint has [15,1,5,5], the network "
                        "[32,1,5,5]"));
  EXPECT_EQ(CheckWeightsFit(Path("nope.safetensors"), small_).code(),
            absl::StatusCode::kNotFound);
  fs::resize_file(path, fs::file_size(path) / 2);
  const absl::Status torn = CheckWeightsFit(path, small_);
  EXPECT_EQ(torn.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(torn.message(), HasSubstr(path));
}

TEST_F(CheckpointTest, DifferentArchitecture) {
  const config::Config fashion = LoadConfig("configs/fashion_mnist.yaml");
  auto big = Build(fashion, 1);
  const std::string path = Path("fashion.safetensors");
  ASSERT_TRUE(SaveCheckpoint(path, *big, nullptr, State()).ok());

  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  auto state = LoadCheckpoint(path, *net, nullptr);
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(state.status().message(), HasSubstr(path));
  EXPECT_THAT(
      state.status().message(),
      HasSubstr("net.0.weight: the checkpoint has [32,1,5,5], the network [15,1,5,5]"));
  const absl::Status s = LoadWeights(path, *net);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("net.0.weight: the checkpoint has [32,1,5,5]"));
  EXPECT_EQ(Snapshot(*net), before);
}

TEST_F(CheckpointTest, ShapeMismatchOfALaterParameter) {
  // Only net.4.weight differs: the first parameters match and must not be copied.
  const std::string path = WeightsOnly("weights.safetensors");
  Rewrite(path, [](SafeTensors& st) {
    st.tensors["net.4.weight"] = {{1024, 3136}, std::vector<float>(1024 * 3136, 0.5f)};
  });
  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  auto state = LoadCheckpoint(path, *net, nullptr);
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      state.status().message(),
      HasSubstr("net.4.weight: the checkpoint has [1024,3136], the network [300,640]"));
  EXPECT_EQ(Snapshot(*net), before);
}

TEST_F(CheckpointTest, MissingParameterTensor) {
  const std::string path = WeightsOnly("weights.safetensors");
  Rewrite(path, [](SafeTensors& st) { st.tensors.erase("net.2.norm_bias"); });
  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  auto state = LoadCheckpoint(path, *net, nullptr);
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(state.status().message(), HasSubstr(path));
  EXPECT_THAT(state.status().message(), HasSubstr("missing tensor 'net.2.norm_bias'"));
  const absl::Status s = LoadWeights(path, *net);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("missing tensor 'net.2.norm_bias'"));
  EXPECT_EQ(Snapshot(*net), before);
}

TEST_F(CheckpointTest, MissingMoment) {
  auto src = Build(small_, 2);
  auto src_opt = MakeOptimizer(small_, *src);
  StepWithKnownGrads(*src_opt, 1);
  const std::string path = Path("ckpt.safetensors");
  ASSERT_TRUE(SaveCheckpoint(path, *src, src_opt.get(), State()).ok());
  Rewrite(path,
          [](SafeTensors& st) { st.tensors.erase("optimizer.exp_avg_sq.net.5.weight"); });

  auto net = Build(small_, 1);
  auto opt = MakeOptimizer(small_, *net);
  const NetSnapshot before = Snapshot(*net);
  auto state = LoadCheckpoint(path, *net, opt.get());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(state.status().message(),
              HasSubstr("missing tensor 'optimizer.exp_avg_sq.net.5.weight'"));
  EXPECT_EQ(Snapshot(*net), before);
  EXPECT_EQ(opt->step_count(), 0);
  const std::vector<float> m = Host(opt->exp_avg(0));
  EXPECT_EQ(m, std::vector<float>(m.size(), 0.0f));
}

TEST_F(CheckpointTest, MissingOrMalformedMetadata) {
  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  struct Case {
    std::string key;
    std::string value;  // "" erases the key
    std::string message;
  };
  const std::vector<Case> cases = {
      {"best_epoch", "", "missing metadata entry 'best_epoch'"},
      {"config", "", "missing metadata entry 'config'"},
      {"network_rng", "", "missing metadata entry 'network_rng'"},
      {"format", "", "missing metadata entry 'format'"},
      {"format", "edbp-checkpoint-2", "metadata entry 'format' is 'edbp-checkpoint-2'"},
      {"epoch", "three",
       "metadata entry 'epoch' is 'three', expected an integer in [0, 2147483647]"},
      {"epoch", "-1", "metadata entry 'epoch' is '-1'"},
      // Issue 17: 2^63 - 1 passed and aborted --resume when epoch + 1 overflowed.
      {"epoch", "9223372036854775807",
       "metadata entry 'epoch' is '9223372036854775807', expected an integer in [0, "
       "2147483647]"},
      {"best_epoch", "2147483648", "metadata entry 'best_epoch' is '2147483648'"},
      {"optimizer_step", "99999999999999999999",
       "metadata entry 'optimizer_step' is '99999999999999999999', expected an integer "
       ">= 0"},
      {"seed", "-5", "metadata entry 'seed' is '-5'"},
      {"best_test_accuracy", "high", "metadata entry 'best_test_accuracy' is 'high'"},
      {"optimizer", "RMSprop", "metadata entry 'optimizer' is 'RMSprop'"},
      {"network_rng", "1 2 3", "metadata entry 'network_rng' is not the state"},
      // The run's epochs (optional): at least 1 and never below the epochs done.
      {"epochs", "0", "metadata entry 'epochs' is '0', expected an integer in [max(1, "},
      {"epochs", "many", "metadata entry 'epochs' is 'many'"},
      {"epochs", "4294967296", "metadata entry 'epochs' is '4294967296'"},
  };
  for (const Case& c : cases) {
    const std::string path = WeightsOnly("weights.safetensors");
    Rewrite(path, [&](SafeTensors& st) {
      if (c.value.empty()) {
        st.metadata.erase(c.key);
      } else {
        st.metadata[c.key] = c.value;
      }
    });
    auto state = LoadCheckpoint(path, *net, nullptr);
    EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument) << c.key;
    EXPECT_THAT(state.status().message(), HasSubstr(path)) << c.key;
    EXPECT_THAT(state.status().message(), HasSubstr(c.message)) << c.key;
    EXPECT_EQ(Snapshot(*net), before) << c.key;
    // LoadWeights does not need the metadata.
    auto other = Build(small_, 1);
    EXPECT_TRUE(LoadWeights(path, *other).ok()) << c.key;
  }
}

// Issue 17: NaN and Inf weights (or moments) loaded silently; now the load fails,
// naming the tensor and the index, and the network keeps its values.
TEST_F(CheckpointTest, NonFiniteValuesAreAnError) {
  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity()}) {
    const std::string path = WeightsOnly("weights.safetensors");
    std::string key;
    Rewrite(path, [&](SafeTensors& st) {
      for (auto& [name, tensor] : st.tensors) {
        if (name.find("weight") != std::string::npos) {
          key = name;
          tensor.data[7] = bad;
          break;
        }
      }
    });
    ASSERT_FALSE(key.empty());
    const absl::Status weights = LoadWeights(path, *net);
    EXPECT_EQ(weights.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(weights.message(), HasSubstr("tensor '" + key + "' holds"));
    EXPECT_THAT(weights.message(), HasSubstr("at index 7 (values must be finite)"));
    auto state = LoadCheckpoint(path, *net, nullptr);
    EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(Snapshot(*net), before) << bad;
  }
}

TEST_F(CheckpointTest, SgdCheckpointIntoAdam) {
  config::Config sgd = small_;
  sgd.network.optimizer = config::OptimizerType::kSgd;
  auto src = Build(sgd, 2);
  auto src_opt = MakeOptimizer(sgd, *src);
  StepWithKnownGrads(*src_opt, 1);
  const std::string path = Path("sgd.safetensors");
  ASSERT_TRUE(SaveCheckpoint(path, *src, src_opt.get(), State()).ok());

  auto net = Build(small_, 1);
  auto opt = MakeOptimizer(small_, *net);
  StepWithKnownGrads(*opt, 1);
  const NetSnapshot before = Snapshot(*net);
  const std::vector<float> m_before = Host(opt->exp_avg(3));
  auto state = LoadCheckpoint(path, *net, opt.get());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(state.status().message(), HasSubstr(path));
  EXPECT_THAT(
      state.status().message(),
      HasSubstr("the checkpoint's optimizer is SGD, the optimizer given is AdamW"));
  EXPECT_EQ(Snapshot(*net), before);
  EXPECT_EQ(opt->step_count(), 1);
  EXPECT_EQ(Bits(Host(opt->exp_avg(3))), Bits(m_before));

  // Into an SGD optimiser it loads, step count included.
  auto net2 = Build(sgd, 3);
  auto opt2 = MakeOptimizer(sgd, *net2);
  ASSERT_TRUE(LoadCheckpoint(path, *net2, opt2.get()).ok());
  EXPECT_EQ(opt2->step_count(), 1);
  EXPECT_EQ(Snapshot(*net2), Snapshot(*src));
}

TEST_F(CheckpointTest, ExtraParameterKeyIsAnotherArchitecture) {
  const std::string path = WeightsOnly("weights.safetensors");
  Rewrite(path, [](SafeTensors& st) {
    st.tensors["net.7.weight"] = {{10, 10}, std::vector<float>(100, 1.0f)};
  });
  auto net = Build(small_, 1);
  const NetSnapshot before = Snapshot(*net);
  const absl::Status s = LoadWeights(path, *net);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(),
              HasSubstr("'net.7.weight' [10,10] is not a parameter of the network"));
  EXPECT_EQ(LoadCheckpoint(path, *net, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Snapshot(*net), before);
}

TEST_F(CheckpointTest, SavingOverAnExistingCheckpointReplacesIt) {
  const std::string path = Path("ckpt.safetensors");
  auto a = Build(small_, 1);
  TrainingState first = State();
  first.epoch = 1;
  ASSERT_TRUE(SaveCheckpoint(path, *a, nullptr, first).ok());
  auto b = Build(small_, 2);
  auto opt_b = MakeOptimizer(small_, *b);
  StepWithKnownGrads(*opt_b, 1);
  TrainingState second = State();
  second.epoch = 2;
  ASSERT_TRUE(SaveCheckpoint(path, *b, opt_b.get(), second).ok());

  auto net = Build(small_, 3);
  auto opt = MakeOptimizer(small_, *net);
  auto state = LoadCheckpoint(path, *net, opt.get());
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->epoch, 2);
  EXPECT_EQ(opt->step_count(), 1);
  EXPECT_EQ(Snapshot(*net), Snapshot(*b));

  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir_)) files.push_back(e.path().filename());
  EXPECT_EQ(files, std::vector<std::string>{"ckpt.safetensors"});
}

TEST_F(CheckpointTest, SaveToAMissingDirectoryNamesThePath) {
  auto net = Build(small_, 1);
  const std::string path = Path("no/such/dir/ckpt.safetensors");
  const absl::Status s = SaveCheckpoint(path, *net, nullptr, State());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(path));
}

// Issue 17: the temporary files of an interrupted write were never removed. Only
// WriteSafeTensors' own pattern goes: a checkpoint, a longer or shorter suffix, another
// base name and a directory of that name stay.
TEST_F(CheckpointTest, StaleTemporaryCheckpointsAreRemovedAndNothingElse) {
  const std::vector<std::string> stale = {"checkpoint_last.safetensors.tmp.a1B2c3",
                                          "checkpoint_best.safetensors.tmp.XyZ789"};
  const std::vector<std::string> kept = {"checkpoint_last.safetensors",
                                         "checkpoint_last.safetensors.tmp.abc",
                                         "checkpoint_last.safetensors.tmp.abcdefg",
                                         "weights.safetensors.tmp.a1B2c3", "train.log"};
  for (const std::string& name : stale) std::ofstream(Path(name)) << "partial";
  for (const std::string& name : kept) std::ofstream(Path(name)) << "keep";
  fs::create_directories(Path("checkpoint_best.safetensors.tmp.dir123"));
  std::vector<std::string> removed = RemoveStaleCheckpointTemps(dir_.string());
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{Path(stale[1]), Path(stale[0])}));
  for (const std::string& name : stale) EXPECT_FALSE(fs::exists(Path(name))) << name;
  for (const std::string& name : kept) EXPECT_TRUE(fs::exists(Path(name))) << name;
  EXPECT_TRUE(fs::is_directory(Path("checkpoint_best.safetensors.tmp.dir123")));
  EXPECT_TRUE(RemoveStaleCheckpointTemps(dir_.string()).empty());
  EXPECT_TRUE(RemoveStaleCheckpointTemps(Path("missing")).empty());
}

}  // namespace
}  // namespace edbp::train

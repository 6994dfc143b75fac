// edbp-train end to end, as a user runs it: --inspect-step against the reference's own
// step, --inspect-step on a tiny network against values computed here, training on a
// subset, --validate and --evaluate. Needs Debian's dataset-fashion-mnist (installed by
// scripts/install-deps.sh); skips with a message where it is absent.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/transform.h"
#include "core/io/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cpu/isa.h"
#include "tests/process_util.h"
#include "tests/unit/core/direct_loops.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;

constexpr char kData[] = "/usr/share/datasets/fashion-mnist";

using CliRun = testing::CommandResult;

// Runs edbp-train with `args` (and `env`, e.g. "EDBP_SPARSE=off", in its environment),
// capturing stdout and stderr.
CliRun RunTrain(const std::string& args, const std::string& env = "") {
  return testing::RunCommand(env + " " + std::string(EDBP_TRAIN_BIN) + " " + args);
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::path(kData) / "train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed in " << kData
                   << " (scripts/install-deps.sh installs dataset-fashion-mnist)";
    }
    dir_ = fs::temp_directory_path() /
           ("edbp_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// The reference's first step (tests/data/reference-small): spikes identical, the loss
// to float32 rounding, every gradient within 1e-4 relative in L2.
TEST_F(TrainCli, InspectStepReproducesTheReference) {
  const std::string out = Path("step.safetensors");
  const CliRun r = RunTrain(
      "tests/data/reference-small/config.yaml --init-weights "
      "tests/data/reference-small/init.safetensors --inspect-step " +
      out);
  ASSERT_EQ(r.code, 0) << r.output;
  auto got = ReadSafeTensors(out);
  ASSERT_TRUE(got.ok()) << got.status();
  auto want = ReadSafeTensors("tests/data/reference-small/step.safetensors");
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(got->tensors.at("outputs").shape, (Shape{5, 50, 10}));
  EXPECT_EQ(got->tensors.at("outputs").data, want->tensors.at("outputs").data);
  EXPECT_EQ(got->tensors.at("outputs_raw").data, want->tensors.at("outputs_raw").data);
  // The exact loss is 4260/50 = 85.2; the reference's float32 sum landed one ulp above
  // it (85.2000046), edbp accumulates in double and rounds once: allow 2 ulp.
  const float loss = got->tensors.at("loss").data[0];
  const float ref = want->tensors.at("loss").data[0];
  EXPECT_LE(std::fabs(loss - ref), 2 * (std::nextafter(ref, 1e9f) - ref))
      << loss << " vs " << ref;
  int grads = 0;
  for (const auto& [name, t] : want->tensors) {
    if (name.rfind("net.", 0) != 0) continue;
    ASSERT_TRUE(got->tensors.count(name)) << name;
    const HostTensor& g = got->tensors.at(name);
    ASSERT_EQ(g.shape, t.shape) << name;
    double diff = 0, norm = 0;
    for (size_t i = 0; i < t.data.size(); ++i) {
      diff += std::pow(static_cast<double>(g.data[i]) - t.data[i], 2);
      norm += std::pow(static_cast<double>(t.data[i]), 2);
    }
    EXPECT_LT(std::sqrt(diff / norm), 1e-4) << name;
    ++grads;
  }
  EXPECT_EQ(grads, 12);
}

// Issue 6: skipping zeros is exact. The reference's step with the skipping on (auto,
// the default) and off (the same kernels over every entry) is the same bit for bit:
// spikes, loss and every gradient. The event-driven kernels forced everywhere (always)
// and the dense BLAS path (blas) sum in other orders: identical spikes, every gradient
// within 1e-5 of its tensor's largest value.
TEST_F(TrainCli, InspectStepIsTheSameWithSparsePathsOnAndOff) {
  std::map<std::string, SafeTensors> steps;
  for (const std::string mode : {"off", "auto", "always", "blas"}) {
    const std::string out = Path("step_" + mode + ".safetensors");
    const CliRun r = RunTrain(
        "tests/data/reference-small/config.yaml --init-weights "
        "tests/data/reference-small/init.safetensors --inspect-step " +
            out,
        "EDBP_SPARSE=" + mode);
    ASSERT_EQ(r.code, 0) << mode << ": " << r.output;
    auto got = ReadSafeTensors(out);
    ASSERT_TRUE(got.ok()) << got.status();
    steps[mode] = *std::move(got);
  }
  const SafeTensors& off = steps.at("off");
  const SafeTensors& on = steps.at("auto");
  ASSERT_EQ(on.tensors.size(), off.tensors.size());
  int grads = 0;
  for (const auto& [name, want] : off.tensors) {
    const HostTensor& got = on.tensors.at(name);
    ASSERT_EQ(got.data.size(), want.data.size()) << name;
    EXPECT_EQ(0, std::memcmp(got.data.data(), want.data.data(),
                             want.data.size() * sizeof(float)))
        << "auto vs off: " << name;
    grads += name.rfind("net.", 0) == 0;
  }
  EXPECT_EQ(grads, 12);
  for (const std::string mode : {"always", "blas"}) {
    const SafeTensors& other = steps.at(mode);
    EXPECT_EQ(other.tensors.at("outputs").data, off.tensors.at("outputs").data) << mode;
    EXPECT_EQ(other.tensors.at("outputs_raw").data, off.tensors.at("outputs_raw").data)
        << mode;
    EXPECT_EQ(other.tensors.at("loss").data, off.tensors.at("loss").data) << mode;
    int checked = 0;
    for (const auto& [name, want] : off.tensors) {
      if (name.rfind("net.", 0) != 0) continue;
      const HostTensor& got = other.tensors.at(name);
      ASSERT_EQ(got.data.size(), want.data.size()) << name;
      float max_abs = 0;
      for (const float v : want.data) max_abs = std::max(max_abs, std::fabs(v));
      ASSERT_GT(max_abs, 0) << name;
      for (size_t i = 0; i < want.data.size(); ++i) {
        ASSERT_NEAR(got.data[i], want.data[i], 1e-5 * max_abs)
            << mode << " " << name << "[" << i << "]";
      }
      ++checked;
    }
    EXPECT_EQ(checked, 12) << mode;
  }
}

// Issue 6: a whole run is the same with the skipping on and off: one epoch of the
// small network on 1000 samples (20 training steps with their optimiser updates, then
// the test pass), its checkpoint byte for byte and every metric of the epoch but times.
// Issue 23: so it is at every instruction-set level this CPU has (EDBP_CPU_ISA), each
// with its own kernels and crossovers.
TEST_F(TrainCli, AnEpochIsBitForBitTheSameWithSparsePathsOnAndOff) {
  for (const kernels::cpu::CpuIsa level :
       {kernels::cpu::CpuIsa::kAvx512, kernels::cpu::CpuIsa::kAvx2,
        kernels::cpu::CpuIsa::kPortable}) {
    if (level > kernels::cpu::DetectedCpuIsa()) continue;
    const std::string isa = kernels::cpu::CpuIsaName(level);
    std::map<std::string, std::string> epochs;
    for (const std::string mode : {"auto", "off"}) {
      std::string run = isa;
      run += "_";
      run += mode;
      std::string env = "EDBP_CPU_ISA=";
      env += isa;
      env += " EDBP_SPARSE=";
      env += mode;
      const CliRun r = RunTrain(
          "configs/small.yaml --epochs 1 --data-limit 1000 --seed 2 "
          "--notensorboard --out-dir " +
              Path(run) + " --metrics-jsonl " + Path(run + ".jsonl"),
          env);
      ASSERT_EQ(r.code, 0) << run << ": " << r.output;
      std::ifstream in(Path(run + ".jsonl"));
      std::string line;
      while (std::getline(in, line)) {
        if (line.find("\"type\":\"epoch\"") != std::string::npos) epochs[mode] = line;
      }
      ASSERT_FALSE(epochs[mode].empty()) << run << ": " << r.output;
      // The times differ from run to run; everything else must not.
      static const std::regex kTimes(R"re("(seconds|\w+_per_second)":[-+.0-9eE]+)re");
      epochs[mode] = std::regex_replace(epochs[mode], kTimes, "\"$1\":-");
    }
    EXPECT_NE(epochs["auto"].find("\"test_accuracy\":"), std::string::npos) << isa;
    EXPECT_EQ(epochs["auto"], epochs["off"]) << isa;
    const std::string on =
        testing::ReadFile(Path(isa + "_auto/checkpoint_last.safetensors"));
    ASSERT_GT(on.size(), 100000u);  // the small network's weights and Adam moments
    EXPECT_TRUE(on == testing::ReadFile(Path(isa + "_off/checkpoint_last.safetensors")))
        << isa;
  }
}

// A one-layer network (784 → 10, T = 5) whose step is recomputed here from the data
// files, the §4 standardisation, the §2/§3 neuron, §5 injection and the §8 count loss.
TEST_F(TrainCli, InspectStepOfATinyNetworkMatchesDirectLoops) {
  const std::string config = Path("tiny.yaml");
  std::ofstream(config) << R"(Network:
  epochs: 1
  batch_size: 4
  n_steps: 5
  dataset: "FashionMNIST"
  data_path: "/usr/share/datasets/fashion-mnist"
  backend: "cpu"
  optimizer: "AdamW"
  lr: 0.0005
  loss: "count"
  gradient_type: "exponential"
  n_class: 10
  desired_count: 4
  undesired_count: 1
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5
Layers:
  output:
    type: "linear"
    n_inputs: 784
    n_outputs: 10
    threshold: 1
)";
  // Weights the test chooses: g large enough for the neurons to fire.
  const int in = 784, out = 10, B = 4, T = 5;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> u(-1.0f / 28, 1.0f / 28);
  SafeTensors init;
  std::vector<float> w(out * in), g(out), b(out);
  for (float& v : w) v = u(rng);
  for (int c = 0; c < out; ++c) {
    g[c] = 0.05f + 0.01f * c;
    b[c] = 0.001f * c;
  }
  init.tensors["net.0.weight"] = {{out, in}, w};
  init.tensors["net.0.norm_weight"] = {{out, 1}, g};
  init.tensors["net.0.norm_bias"] = {{out, 1}, b};
  ASSERT_TRUE(WriteSafeTensors(Path("init.safetensors"), init).ok());
  const CliRun r = RunTrain(config + " --init-weights " + Path("init.safetensors") +
                            " --inspect-step " + Path("step.safetensors"));
  ASSERT_EQ(r.code, 0) << r.output;
  auto got = ReadSafeTensors(Path("step.safetensors"));
  ASSERT_TRUE(got.ok()) << got.status();

  // The first 4 training images, normalised (§11), repeated over T (§6).
  auto ds = data::ReadIdx(std::string(kData) + "/train-images-idx3-ubyte.gz",
                          std::string(kData) + "/train-labels-idx1-ubyte.gz", B);
  ASSERT_TRUE(ds.ok()) << ds.status();
  std::vector<double> x(T * B * in);
  for (int s = 0; s < B; ++s) {
    for (int j = 0; j < in; ++j) {
      const float v = (ds->pixels[s * in + j] / 255.0f - 0.1307f) / 0.3081f;
      for (int t = 0; t < T; ++t) x[(t * B + s) * in + j] = v;
    }
  }
  std::vector<double> w_hat, mean, var;
  direct::WeightStd(out, in, {w.begin(), w.end()}, {g.begin(), g.end()},
                    {b.begin(), b.end()}, w_hat, mean, var);
  std::vector<double> I(T * B * out, 0), du, du_t, o;
  for (int r = 0; r < T * B; ++r)
    for (int c = 0; c < out; ++c)
      for (int j = 0; j < in; ++j) I[r * out + c] += x[r * in + j] * w_hat[c * in + j];
  direct::NeuronForward({}, T, B * out, I, du, du_t, o);
  const std::vector<double> raw = o;
  for (int s = 0; s < B; ++s) {  // §5 injection
    const int y = ds->labels[s];
    int t_star = 0;
    for (int t = 0; t < T; ++t) {
      if (du[(t * B + s) * out + y] > 0.05) t_star = t;
    }
    o[(t_star * B + s) * out + y] = du[(t_star * B + s) * out + y] != 0 ? 1 : 0;
  }
  // §8 count loss: δ = (Σ_t o - target)/T, zeroed on the right side of the target.
  double loss = 0;
  std::vector<double> dl_do(T * B * out);
  for (int s = 0; s < B; ++s) {
    for (int c = 0; c < out; ++c) {
      double count = 0;
      for (int t = 0; t < T; ++t) count += o[(t * B + s) * out + c];
      const bool desired = c == ds->labels[s];
      double delta = (count - (desired ? 4 : 1)) / T;
      if ((desired && delta > 0) || (!desired && delta < 0)) delta = 0;
      loss += 0.5 * T * delta * delta;
      for (int t = 0; t < T; ++t) dl_do[(t * B + s) * out + c] = -delta;  // loss_reverse
    }
  }
  std::vector<double> e(T * B * out), grad_w_, grad_in_;
  for (size_t i = 0; i < e.size(); ++i) e[i] = dl_do[i] * o[i];
  direct::NeuronBackward({}, T, B * out, e, o, du, du_t, grad_w_, grad_in_);
  std::vector<double> G(out * in, 0);
  for (int r = 0; r < T * B; ++r)
    for (int c = 0; c < out; ++c)
      for (int j = 0; j < in; ++j) G[c * in + j] += grad_w_[r * out + c] * x[r * in + j];
  std::vector<double> gw, gg, gb;
  direct::WeightStdBackward(out, in, G, {w.begin(), w.end()}, {g.begin(), g.end()}, w_hat,
                            mean, var, gw, gg, gb);

  int spikes = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    EXPECT_EQ(got->tensors.at("outputs_raw").data[i], raw[i]) << i;
    EXPECT_EQ(got->tensors.at("outputs").data[i], o[i]) << i;
    spikes += raw[i] != 0;
  }
  ASSERT_GT(spikes, 0) << "the tiny network must fire for the test to mean something";
  EXPECT_NEAR(got->tensors.at("loss").data[0], loss, 1e-5 * std::max(1.0, loss));
  const auto check = [&](const std::string& name, const std::vector<double>& want) {
    const std::vector<float>& have = got->tensors.at(name).data;
    ASSERT_EQ(have.size(), want.size()) << name;
    double diff = 0, norm = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      diff += std::pow(have[i] - want[i], 2);
      norm += want[i] * want[i];
    }
    ASSERT_GT(norm, 0) << name;
    EXPECT_LT(std::sqrt(diff / norm), 1e-4) << name;
  };
  check("net.0.weight.grad", gw);
  check("net.0.norm_weight.grad", gg);
  check("net.0.norm_bias.grad", gb);
}

// One epoch on a subset learns well above chance (10 %), writes the metrics and the
// checkpoints, and --evaluate of the best checkpoint reports the same test accuracy.
TEST_F(TrainCli, TrainsASubsetAndEvaluatesIt) {
  const CliRun r =
      RunTrain("configs/small.yaml --epochs 1 --data-limit 3000 --seed 1 --out-dir " +
               Path("run") + " --metrics-jsonl " + Path("m.jsonl"));
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(Path("m.jsonl"));
  std::string line, epoch_line;
  while (std::getline(in, line)) {
    if (line.find("\"type\":\"epoch\"") != std::string::npos) epoch_line = line;
  }
  ASSERT_FALSE(epoch_line.empty()) << r.output;
  const size_t at = epoch_line.find("\"test_accuracy\":");
  ASSERT_NE(at, std::string::npos);
  const double acc = std::stod(epoch_line.substr(at + 16));
  EXPECT_GT(acc, 0.65) << epoch_line;  // seed 1 reaches 0.7297 (chance: 0.1)
  ASSERT_TRUE(fs::exists(Path("run/checkpoint_last.safetensors")));
  ASSERT_TRUE(fs::exists(Path("run/checkpoint_best.safetensors")));
  const CliRun ev =
      RunTrain("configs/small.yaml --evaluate --data-limit 3000 --init-weights " +
               Path("run/checkpoint_best.safetensors"));
  ASSERT_EQ(ev.code, 0) << ev.output;
  std::ostringstream want;
  want.precision(2);
  want << std::fixed << "test accuracy " << 100 * acc << "%";
  EXPECT_NE(ev.output.find(want.str()), std::string::npos)
      << ev.output << " vs " << want.str();
  EXPECT_NE(ev.output.find("label\\pred"), std::string::npos) << ev.output;
  // Fashion-MNIST's rows carry the class names (base/class_names.h).
  EXPECT_NE(ev.output.find("\n9 Ankle boot "), std::string::npos) << ev.output;
}

// Issue 17: resuming a finished run exited 0 without a word.
TEST_F(TrainCli, ResumingAFinishedRunSaysThereIsNothingToDo) {
  const std::string run = Path("run");
  const std::string flags = " --data-limit 100 --notensorboard --progress-every 0";
  const CliRun first = RunTrain("configs/small.yaml --epochs 1 --out-dir " + run + flags);
  ASSERT_EQ(first.code, 0) << first.output;
  const std::string before = testing::ReadFile(run + "/checkpoint_last.safetensors");
  const CliRun again = RunTrain("--resume " + run + flags);
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_THAT(again.output, ::testing::HasSubstr("nothing to do: " + run +
                                                 " has finished all 1 epochs; --epochs "
                                                 "N with N > 1 continues it"));
  EXPECT_EQ(testing::ReadFile(run + "/checkpoint_last.safetensors"), before);
}

TEST_F(TrainCli, ValidateListsEveryErrorAndExitsNonZero) {
  const CliRun ok = RunTrain("configs/fashion_mnist.yaml --validate");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("total parameters: 3275764"), std::string::npos) << ok.output;
  const std::string bad = Path("bad.yaml");
  std::ifstream src("configs/small.yaml");
  std::stringstream text;
  text << src.rdbuf();
  std::string yaml = text.str();
  yaml.replace(yaml.find("n_inputs: 640"), 13, "n_inputs: 600");
  yaml.replace(yaml.find("optimizer: \"AdamW\""), 18, "optimizer: \"Adamm\"");
  std::ofstream(bad) << yaml;
  const CliRun r = RunTrain(bad + " --validate");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(
                "Layers.FC_1.n_inputs: expected 640 (40x4x4 from pooling_2), got 600"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("Network.optimizer"), std::string::npos) << r.output;
  const CliRun usage = RunTrain("");
  EXPECT_EQ(usage.code, 2);
  const CliRun eval = RunTrain("configs/small.yaml --evaluate");
  EXPECT_EQ(eval.code, 2);
  EXPECT_NE(eval.output.find("--evaluate needs --init-weights or --resume"),
            std::string::npos);
  const CliRun missing =
      RunTrain("configs/small.yaml --init-weights " + Path("nope.safetensors") +
               " --inspect-step " + Path("x.safetensors"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("nope.safetensors"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace edbp

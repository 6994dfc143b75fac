// edbp-train on the CPU and on the GPU with the reference Fashion-MNIST config
// (configs/fashion_mnist.yaml, only `backend:` changed): one --inspect-step, and a few
// epochs' metrics. The data set's files are used where they exist, else synthetic data
// of the same shape (the GPU machine has no Debian data package).
//
// Both backends start from the same weights (--init-weights, made once by a short CPU
// run): the §7 init bisection compares spike rates against a bound, so a single flipped
// spike during init could send the two backends to different weights.
//
// The convolutions and GEMMs sum in another order on the GPU, so a neuron whose
// potential sits within rounding of its threshold may fire on one backend only
// (ALGORITHM.md §12); the step comparison reports such flips and bounds them.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/network.h"
#include "core/tensor.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "tests/gpu/gpu_test.h"
#include "tests/gpu/step_compare.h"

namespace edbp::gpu_test {
namespace {

namespace fs = std::filesystem;

constexpr char kConfig[] = "configs/fashion_mnist.yaml";
constexpr char kDataDir[] = "/usr/share/datasets/fashion-mnist";

std::string TrainBin() {
  const char* env = std::getenv("EDBP_TRAIN_BIN");  // the bundle's copy on a GPU machine
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(EDBP_TRAIN_BIN);
}

fs::path TempDir() {
  fs::path dir =
      fs::temp_directory_path() / ("edbp_gpu_train_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// The config with `backend:` set to `backend`, written to dir/<name>.yaml.
std::string ConfigFor(const fs::path& dir, const std::string& name,
                      const std::string& backend) {
  std::ifstream in(kConfig);
  EXPECT_TRUE(in.good()) << "run from the repository root: " << kConfig;
  std::stringstream out;
  std::string line;
  bool replaced = false;
  while (std::getline(in, line)) {
    if (line.find("backend:") != std::string::npos && !replaced) {
      line = "  backend: \"" + backend + "\"";
      replaced = true;
    }
    out << line << "\n";
  }
  EXPECT_TRUE(replaced) << kConfig << " has no backend line";
  const fs::path path = dir / (name + ".yaml");
  std::ofstream(path) << out.str();
  return path.string();
}

std::string DataFlags(int limit) {
  const bool have_data = fs::exists(fs::path(kDataDir) / "train-images-idx3-ubyte.gz");
  return " --data-limit " + std::to_string(limit) +
         (have_data ? "" : " --synthetic-data");
}

// The two runs: "cpu" on the CPU backend, "gpu" on CUDA (on the CPU too under
// EDBP_GPU_TEST_CPU_AS_CUDA, which checks this test's own plumbing).
struct Side {
  const char* name;
  const char* backend;
};
std::vector<Side> Sides() {
  return {{"cpu", "cpu"}, {"gpu", Cuda() == Cpu() ? "cpu" : "cuda"}};
}

// Runs edbp-train with `args`; returns its exit status and appends its output.
int RunTrain(const std::string& args, std::string* output) {
  const std::string cmd = TrainBin() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  while (fgets(buf, sizeof(buf), p) != nullptr) *output += buf;
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Weights after init for both backends: one CPU epoch on 50 samples, its checkpoint.
std::string InitialWeights(const fs::path& dir, std::string* log) {
  const fs::path out = dir / "init";
  const int rc =
      RunTrain(ConfigFor(dir, "init", "cpu") + " --epochs 1 --seed 1 --out-dir " +
                   out.string() + DataFlags(50),
               log);
  EXPECT_EQ(rc, 0) << *log;
  const fs::path weights = out / "checkpoint_last.safetensors";
  EXPECT_TRUE(fs::exists(weights)) << *log;
  return weights.string();
}

// Forwards every call to `inner` and records the batch (shape.n) of every
// Conv2dForward: which path a layer took, on any backend.
class RecordingBackend final : public kernels::Backend {
 public:
  explicit RecordingBackend(kernels::Backend* inner) : inner_(inner) {}
  kernels::Device device() const override { return inner_->device(); }
  bool Supports(kernels::Op op) const override { return inner_->Supports(op); }
  absl::StatusOr<void*> Allocate(size_t bytes) override {
    return inner_->Allocate(bytes);
  }
  void Deallocate(void* ptr) override { inner_->Deallocate(ptr); }
  absl::Status CopyHostToDevice(void* dst, const void* src, size_t bytes) override {
    return inner_->CopyHostToDevice(dst, src, bytes);
  }
  absl::Status CopyDeviceToHost(void* dst, const void* src, size_t bytes) override {
    return inner_->CopyDeviceToHost(dst, src, bytes);
  }
  absl::Status CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override {
    return inner_->CopyDeviceToDevice(dst, src, bytes);
  }
  absl::Status Synchronize() override { return inner_->Synchronize(); }
  kernels::DeviceMemoryStats MemoryStats() const override {
    return inner_->MemoryStats();
  }
  void ResetPeakMemory() override { inner_->ResetPeakMemory(); }
  size_t ReleaseCachedMemory() override { return inner_->ReleaseCachedMemory(); }
#define EDBP_RECORD_AND_FORWARD(Name)                           \
  absl::Status Name(const kernels::Name##Args& args) override { \
    Seen(args);                                                 \
    return inner_->Name(args);                                  \
  }
  EDBP_KERNEL_OPS(EDBP_RECORD_AND_FORWARD)
#undef EDBP_RECORD_AND_FORWARD

  std::vector<int64_t> conv_forward_batches;

 private:
  template <typename Args>
  void Seen(const Args& /*args*/) {}
  void Seen(const kernels::Conv2dForwardArgs& args) {
    conv_forward_batches.push_back(args.shape.n);
  }

  kernels::Backend* const inner_;
};

// Issue 25: the first layer's repeated static input is the trainer's word
// (ForwardOptions::input_repeats), not a look at host memory, so the GPU takes the
// CPU's one-step path: conv_1 convolves B samples, conv_2 every step's T·B.
TEST(GpuTrain, TheFirstLayerTakesTheCpusRepeatedInputPath) {
  absl::StatusOr<config::Config> config = config::LoadConfigFile("configs/small.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const int64_t steps = config->network.n_steps, batch = 4;
  std::vector<float> image(28 * 28);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>(i % 7) / 7.0f;
  std::vector<float> repeated;
  for (int64_t k = 0; k < steps * batch; ++k) {
    repeated.insert(repeated.end(), image.begin(), image.end());
  }
  std::vector<std::vector<int64_t>> batches;
  for (kernels::Backend* side : {Cpu(), Cuda()}) {
    RecordingBackend recording(side);
    absl::StatusOr<std::unique_ptr<Network>> net =
        Network::Create(*config, &recording, 1);
    ASSERT_TRUE(net.ok()) << net.status();
    absl::StatusOr<Tensor> x =
        Tensor::FromHost(&recording, {steps, batch, 1, 28, 28}, repeated);
    const std::vector<int32_t> labels = {0, 1, 2, 3};
    absl::StatusOr<Tensor> y = Tensor::FromHostI32(&recording, {batch}, labels);
    ASSERT_TRUE(x.ok() && y.ok());
    absl::StatusOr<NetworkForward> f =
        (*net)->Forward(*x, &*y, /*training=*/true, /*keep_context=*/true,
                        /*input_repeats=*/true);
    ASSERT_TRUE(f.ok()) << f.status();
    batches.push_back(recording.conv_forward_batches);
  }
  EXPECT_EQ(batches[0], (std::vector<int64_t>{batch, steps * batch}));
  EXPECT_EQ(batches[1], batches[0]);
}

TEST(GpuTrain, InspectStepMatchesTheCpu) {
  const fs::path dir = TempDir();
  std::string log;
  const std::string weights = InitialWeights(dir, &log);
  ASSERT_FALSE(HasFailure());
  for (const Side& side : Sides()) {
    const std::string out = (dir / (std::string(side.name) + ".safetensors")).string();
    std::string args = ConfigFor(dir, side.name, side.backend);
    args.append(" --seed 1 --init-weights ").append(weights);
    args.append(" --out-dir ").append((dir / side.name).string());
    args.append(DataFlags(50)).append(" --inspect-step ").append(out);
    ASSERT_EQ(RunTrain(args, &log), 0) << log;
  }
  absl::StatusOr<SafeTensors> cpu = ReadSafeTensors((dir / "cpu.safetensors").string());
  absl::StatusOr<SafeTensors> cuda = ReadSafeTensors((dir / "gpu.safetensors").string());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  ASSERT_TRUE(cuda.ok()) << cuda.status();
  ASSERT_EQ(cpu->tensors.size(), cuda->tensors.size());

  // Spikes at threshold may flip; step_compare.h bounds what that may change.
  ASSERT_TRUE(cpu->tensors.count("outputs")) << "outputs";
  const int64_t steps = cpu->tensors.at("outputs").shape.at(0);  // [T, B, C]; count loss
  const StepComparison r = CompareInspectSteps(*cpu, *cuda, CountLossPerFlip(steps));
  std::printf(
      "output spikes differing CPU vs GPU: %lld of %lld; gradients within the L2 bound "
      "only: %d of %d\n",
      static_cast<long long>(r.output_flips), static_cast<long long>(r.output_entries),
      r.grads_within_l2_only, r.grads);
  for (const std::string& failure : r.failures) ADD_FAILURE() << failure;
  EXPECT_GE(r.grads, 8) << "every conv/linear layer's weight, gain and bias gradients";
  fs::remove_all(dir);
}

struct Epoch {
  double train_loss = NAN, train_accuracy = NAN, test_accuracy = NAN;
};

double Field(const std::string& line, const std::string& name) {
  const size_t at = line.find("\"" + name + "\":");
  return at == std::string::npos ? NAN : std::stod(line.substr(at + name.size() + 3));
}

std::vector<Epoch> Epochs(const fs::path& jsonl) {
  std::vector<Epoch> epochs;
  std::ifstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"type\":\"epoch\"") == std::string::npos) continue;
    epochs.push_back({Field(line, "train_loss"), Field(line, "train_accuracy"),
                      Field(line, "test_accuracy")});
  }
  return epochs;
}

TEST(GpuTrain, AFewEpochsGiveTheCpusMetrics) {
  const fs::path dir = TempDir();
  std::string log;
  const std::string weights = InitialWeights(dir, &log);
  ASSERT_FALSE(HasFailure());
  for (const Side& side : Sides()) {
    ASSERT_EQ(
        RunTrain(ConfigFor(dir, side.name, side.backend) +
                     " --epochs 3 --seed 2 --init-weights " + weights + " --out-dir " +
                     (dir / side.name).string() + DataFlags(1000) + " --metrics-jsonl " +
                     (dir / (std::string(side.name) + ".jsonl")).string(),
                 &log),
        0)
        << log;
  }
  const std::vector<Epoch> cpu = Epochs(dir / "cpu.jsonl");
  const std::vector<Epoch> cuda = Epochs(dir / "gpu.jsonl");
  ASSERT_EQ(cpu.size(), 3u) << log;
  ASSERT_EQ(cuda.size(), 3u) << log;
  for (size_t e = 0; e < cpu.size(); ++e) {
    std::printf(
        "epoch %zu: train loss cpu %.6g gpu %.6g, test accuracy cpu %.4f gpu %.4f\n",
        e + 1, cpu[e].train_loss, cuda[e].train_loss, cpu[e].test_accuracy,
        cuda[e].test_accuracy);
    // Identical data order and init (same seed); only rounding differs, so the runs
    // stay close: 2% on the loss, 3 points of accuracy.
    EXPECT_NEAR(cuda[e].train_loss, cpu[e].train_loss,
                0.02 * std::fabs(cpu[e].train_loss))
        << "epoch " << e + 1;
    EXPECT_NEAR(cuda[e].train_accuracy, cpu[e].train_accuracy, 0.03) << "epoch " << e + 1;
    EXPECT_NEAR(cuda[e].test_accuracy, cpu[e].test_accuracy, 0.03) << "epoch " << e + 1;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edbp::gpu_test

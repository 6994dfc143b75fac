// Network assembly from a config (state_dict names, PyTorch init), init by bisection
// (ALGORITHM.md §7), dropout (§5) and device resolution.
#include "core/network.h"

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/device.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace edbp {
namespace {

using testing::Cpu;
using testing::Host;
using testing::MakeTensor;

config::Config SmallConfig() {
  auto c = config::LoadConfigFile("configs/small.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

std::unique_ptr<Network> Build(const config::Config& c, uint64_t seed) {
  auto net = Network::Create(c, Cpu(), seed);
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(*net);
}

TEST(Network, ParametersUseTheReferenceStateDictNames) {
  auto net = Build(SmallConfig(), 0);
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  for (const Parameter& p : net->Parameters()) {
    names.push_back(p.name);
    shapes.push_back(p.value.shape());
    EXPECT_EQ(p.grad.shape(), p.value.shape()) << p.name;
    EXPECT_EQ(p.is_norm, p.name.find("norm_") != std::string::npos) << p.name;
  }
  // Indices count pooling layers: conv_1 = 0, pooling_1 = 1, conv_2 = 2, ...
  EXPECT_EQ(names, (std::vector<std::string>{
                       "net.0.weight", "net.0.norm_weight", "net.0.norm_bias",
                       "net.2.weight", "net.2.norm_weight", "net.2.norm_bias",
                       "net.4.weight", "net.4.norm_weight", "net.4.norm_bias",
                       "net.5.weight", "net.5.norm_weight", "net.5.norm_bias"}));
  EXPECT_EQ(shapes[0], (Shape{15, 1, 5, 5}));
  EXPECT_EQ(shapes[1], (Shape{15, 1, 1, 1}));
  EXPECT_EQ(shapes[6], (Shape{300, 640}));
  EXPECT_EQ(shapes[7], (Shape{300, 1}));
}

// §4: W ~ U(-1/sqrt(F), 1/sqrt(F)), g = 1, b = 0; the seed decides W.
TEST(Network, PyTorchDefaultInit) {
  auto a = Build(SmallConfig(), 7);
  auto b = Build(SmallConfig(), 7);
  auto c = Build(SmallConfig(), 8);
  const auto pa = a->Parameters(), pb = b->Parameters(), pc = c->Parameters();
  const std::vector<float> w = Host(pa[6].value);  // FC_1: fan-in 640
  const double bound = 1 / std::sqrt(640.0);
  double sum = 0, sq = 0;
  for (float v : w) {
    ASSERT_LE(std::fabs(v), bound);
    sum += v;
    sq += v * v;
  }
  const double n = static_cast<double>(w.size());
  EXPECT_NEAR(sum / n, 0.0, 0.01 * bound);
  EXPECT_NEAR(std::sqrt(sq / n), bound / std::sqrt(3.0), 0.01 * bound);  // U's std
  EXPECT_EQ(Host(pa[6].value), Host(pb[6].value));
  EXPECT_NE(Host(pa[6].value), Host(pc[6].value));
  for (float v : Host(pa[7].value)) EXPECT_EQ(v, 1.0f);
  for (float v : Host(pa[8].value)) EXPECT_EQ(v, 0.0f);
}

// A batch of analog "images" in [-0.4, 2.8] (about the normalised range), the same at
// every time step as static inputs are (§6).
Tensor StaticInput(int64_t steps, int64_t batch, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-0.4f, 2.8f);
  std::vector<float> img(batch * 28 * 28);
  for (float& v : img) v = d(rng);
  std::vector<float> x;
  for (int64_t t = 0; t < steps; ++t) x.insert(x.end(), img.begin(), img.end());
  return MakeTensor({steps, batch, 1, 28, 28}, x);
}

// §7: after bisection every spiking layer fires near avg_spike_init/T·(T-t0) in the
// late steps (t ≥ ⌊2T/3⌋), g equals the chosen factor, and the factor is inside the
// search range.
TEST(Network, InitByBisectionHitsTheTargetRate) {
  const config::Config c = SmallConfig();
  auto net = Build(c, 0);
  const Tensor x = StaticInput(5, 50, 3);
  auto factors = net->InitializeByBisection(x);
  ASSERT_TRUE(factors.ok()) << factors.status();
  ASSERT_EQ(factors->size(), 4u);
  const int64_t T = 5, t0 = 2 * T / 3;             // = 3
  const double target = 0.5 / T * (T - t0) * 1.2;  // avg_spike_init 0.5
  Tensor h = x;
  size_t k = 0;
  for (const auto& layer : net->layers()) {
    auto f = layer->Forward(h, {.keep_context = false});
    ASSERT_TRUE(f.ok());
    h = f->output;
    if (!layer->HasParameters()) continue;
    const double factor = (*factors)[k++];
    EXPECT_GT(factor, 0.05);
    EXPECT_LT(factor, 500);
    for (float g : Host(static_cast<SpikingLayer&>(*layer).norm_weight())) {
      EXPECT_FLOAT_EQ(g, static_cast<float>(factor)) << layer->name();
    }
    const std::vector<float> o = Host(h);
    const int64_t per_step = h.numel() / T;
    double late = 0;
    for (int64_t i = t0 * per_step; i < h.numel(); ++i) late += o[i];
    const double rate = late / per_step;
    EXPECT_GT(rate, 0.5 * target) << layer->name();
    EXPECT_LT(rate, 1.5 * target) << layer->name();
  }
}

config::Config DropoutConfig(float p) {
  const std::string yaml = R"(
Network:
  epochs: 1
  batch_size: 8
  n_steps: 4
  dataset: "Synthetic"
  input_shape: [500]
  optimizer: "SGD"
  lr: 0.1
  loss: "count"
  gradient_type: "exponential"
  n_class: 2
  desired_count: 3
  undesired_count: 1
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5
Layers:
  drop:
    type: "dropout"
    p: )" + std::to_string(p) +
                           R"(
  output:
    type: "linear"
    n_inputs: 500
    n_outputs: 2
    threshold: 1
)";
  auto c = config::ParseConfig(yaml, "dropout.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// §5: one keep-draw per (sample, neuron), shared by all time steps; kept values scale
// by 1/(1-p); the backward applies the same mask; identity outside training.
TEST(Dropout, MaskSharedAcrossTimeAndScaled) {
  const config::Config c = DropoutConfig(0.25f);
  auto net = Build(c, 0);
  Layer& drop = *net->layers()[0];
  const int64_t T = 4, B = 8, N = 500;
  const Tensor x = MakeTensor({T, B, N}, std::vector<float>(T * B * N, 1.0f));
  std::mt19937_64 rng(5);
  auto f = drop.Forward(x, {.training = true, .rng = &rng});
  ASSERT_TRUE(f.ok());
  const std::vector<float> y = Host(f->output);
  int kept = 0;
  for (int64_t i = 0; i < B * N; ++i) {
    const float v0 = y[i];
    ASSERT_TRUE(v0 == 0.0f || v0 == 1.0f / 0.75f) << v0;
    for (int64_t t = 1; t < T; ++t) ASSERT_EQ(y[t * B * N + i], v0) << "t=" << t;
    kept += v0 != 0.0f;
  }
  EXPECT_NEAR(kept / 4000.0, 0.75, 0.03);  // 4000 draws: std 0.007
  std::vector<float> g(T * B * N);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i % 7) - 3.0f;
  auto back = drop.Backward(MakeTensor({T, B, N}, g), std::move(f->context), true);
  ASSERT_TRUE(back.ok());
  const std::vector<float> gx = Host(*back);
  for (size_t i = 0; i < g.size(); ++i) ASSERT_EQ(gx[i], g[i] * y[i]) << i;
  // Test mode and p outside (0, 1) are the identity.
  auto test_mode = drop.Forward(x, {.training = false});
  ASSERT_TRUE(test_mode.ok());
  EXPECT_EQ(Host(test_mode->output), Host(x));
  auto none = Build(DropoutConfig(0.0f), 0);
  auto f0 = none->layers()[0]->Forward(x, {.training = true, .rng = &rng});
  ASSERT_TRUE(f0.ok());
  EXPECT_EQ(Host(f0->output), Host(x));
}

// Same seed, same masks: dropout draws from the network's own seeded RNG.
TEST(Dropout, NetworkForwardIsReproducible) {
  const config::Config c = DropoutConfig(0.5f);
  const Tensor x = MakeTensor({4, 8, 500}, std::vector<float>(4 * 8 * 500, 0.7f));
  auto a = Build(c, 3), b = Build(c, 3);
  auto fa = a->Forward(x, nullptr, true, false);
  auto fb = b->Forward(x, nullptr, true, false);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ(Host(fa->output), Host(fb->output));
}

TEST(Device, ResolvesTheConfigChoice) {
  auto cpu = ResolveDevice(config::BackendChoice::kCpu);
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(cpu->ToString(), "cpu");
  auto backend = ResolveBackend(config::BackendChoice::kCpu);
  ASSERT_TRUE(backend.ok());
  EXPECT_EQ((*backend)->device().type, kernels::DeviceType::kCpu);
  if (kernels::CudaDeviceCount() > 0) {
    GTEST_SKIP() << "a CUDA device is visible; the no-GPU error paths are not reachable";
  }
  auto automatic = ResolveDevice(config::BackendChoice::kAuto);
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic->type, kernels::DeviceType::kCpu);
  auto cuda = ResolveDevice(config::BackendChoice::kCuda);
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(cuda.status().message().find("Network.backend: cuda was asked for"),
            std::string::npos)
      << cuda.status();
  auto direct = kernels::GetBackend({kernels::DeviceType::kCuda, 0});
  EXPECT_EQ(direct.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(direct.status().message().find("no CUDA device 0"), std::string::npos);
}

TEST(Backend, CpuSupportsEveryOpAndNamesThem) {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(kernels::Op::kNumOps); ++i) {
    const auto op = static_cast<kernels::Op>(i);
    EXPECT_TRUE(Cpu()->Supports(op)) << kernels::OpName(op);
    names.insert(kernels::OpName(op));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kernels::Op::kNumOps));
  EXPECT_EQ(names.count("?"), 0u);
}

}  // namespace
}  // namespace edbp

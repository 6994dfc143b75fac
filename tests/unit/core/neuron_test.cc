// Neuron forward/backward (ALGORITHM.md §2, §3) and kernel tables (§1) on one neuron
// over T = 5, every mode, against values worked out by hand in the comments.
#include "core/neuron.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "tests/test_util.h"

namespace edbp {
namespace {

using testing::Cpu;

// tau_m 5, tau_s 3, tau_grad 2.5: θm = 0.2, θs = 1/3, θg = 0.4; θs/(θs-θm) = 2.5.
config::NetworkConfig Net(config::ForwardType fwd, config::GradientType grad) {
  config::NetworkConfig net;
  net.tau_m = 5;
  net.tau_s = 3;
  net.tau_grad = 2.5;
  net.forward_type = fwd;
  net.gradient_type = grad;
  return net;
}

struct Forward {
  std::vector<float> du, du_t, o;
};

Forward RunForward(const config::NetworkConfig& net, const std::vector<float>& input) {
  const int64_t steps = static_cast<int64_t>(input.size());
  Forward f{std::vector<float>(steps), std::vector<float>(steps),
            std::vector<float>(steps)};
  auto status = Cpu()->NeuronForward({.steps = steps,
                                      .n = 1,
                                      .params = MakeNeuronParams(net, 1.0f),
                                      .input = input.data(),
                                      .du = f.du.data(),
                                      .du_t = f.du_t.data(),
                                      .o = f.o.data()});
  EXPECT_TRUE(status.ok()) << status;
  return f;
}

struct Backward {
  std::vector<float> grad_w, grad_in;
};

Backward RunBackward(const config::NetworkConfig& net, const Forward& f,
                     const std::vector<float>& dl_do) {
  const int64_t steps = static_cast<int64_t>(f.o.size());
  const KernelTables tables = ComputeKernelTables(net, steps);
  std::vector<float> e(steps);
  for (int64_t t = 0; t < steps; ++t) e[t] = dl_do[t] * f.o[t];  // §5: e = dL/do ⊙ o
  Backward b{std::vector<float>(steps), std::vector<float>(steps)};
  auto status = Cpu()->NeuronBackward({.steps = steps,
                                       .n = 1,
                                       .max_dudt_inv = MaxDudtInv(net),
                                       .e = e.data(),
                                       .o = f.o.data(),
                                       .du = f.du.data(),
                                       .du_t = f.du_t.data(),
                                       .syn_a = tables.syn_a.data(),
                                       .partial_a = tables.partial_a.data(),
                                       .grad_w = b.grad_w.data(),
                                       .grad_in = b.grad_in.data()});
  EXPECT_TRUE(status.ok()) << status;
  return b;
}

constexpr double kTol = 2e-6;

TEST(KernelTables, ExponentialByHand) {
  const KernelTables t = ComputeKernelTables(
      Net(config::ForwardType::kLeaky, config::GradientType::kExponential), 5);
  ASSERT_EQ(t.syn_a.size(), 6u);
  // syn_a[k] = (0.8^(k+1) - (2/3)^(k+1)) · 2.5
  const double a = 0.8, b = 2.0 / 3.0;
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(t.syn_a[k], (std::pow(a, k + 1) - std::pow(b, k + 1)) * 2.5, 1e-7) << k;
    EXPECT_NEAR(t.dsyn_a[k], std::pow(0.6, k + 1), 1e-7) << k;  // (1-θg)^(k+1)
    EXPECT_EQ(t.partial_a[k], -t.dsyn_a[k]);
  }
  EXPECT_NEAR(t.syn_a[0], 1.0 / 3.0, 1e-7);  // (0.8 - 0.6667)·2.5
  EXPECT_NEAR(t.syn_a[1], 0.4888889, 1e-7);  // (0.64 - 0.4444)·2.5
  EXPECT_EQ(t.syn_a[5], 0.0f);
  EXPECT_EQ(t.dsyn_a[5], 0.0f);
  EXPECT_EQ(t.partial_a[5], 0.0f);
}

TEST(KernelTables, OriginalIsDifferenceOfSynA) {
  const KernelTables t = ComputeKernelTables(
      Net(config::ForwardType::kLeaky, config::GradientType::kOriginal), 5);
  // dsyn_a[k] = f(k+1) - f(k), f(0) = 0: 1/3, 0.4888889 - 1/3 = 0.1555556, ...
  EXPECT_NEAR(t.dsyn_a[0], 1.0 / 3.0, 1e-7);
  EXPECT_NEAR(t.dsyn_a[1], 0.4888889 - 1.0 / 3.0, 1e-7);
  for (int k = 1; k < 5; ++k) {
    EXPECT_NEAR(t.dsyn_a[k], t.syn_a[k] - t.syn_a[k - 1], 1e-7) << k;
  }
  EXPECT_EQ(t.dsyn_a[5], 0.0f);
}

// Input [0.5, 4, 0, 0, 0]:
// t=0: m = 0.4, s = 1/3, g = 0.3, u = (0.4 - 1/3)·2.5 = 1/6: no spike.
// t=1: m = 4.4·0.8 = 3.52, s = (13/3)·(2/3) = 26/9, g = 4.3·0.6 = 2.58,
//      u = (3.52 - 26/9)·2.5 = 1.5777778 ≥ 1: spike, du = u - 1/6 = 1.4111111.
// t=2..4: everything reset to 0: u = 0, du = 0.
TEST(NeuronForward, LeakyExponentialByHand) {
  const auto f =
      RunForward(Net(config::ForwardType::kLeaky, config::GradientType::kExponential),
                 {0.5f, 4.0f, 0.0f, 0.0f, 0.0f});
  const double u1 = (3.52 - 26.0 / 9.0) * 2.5;
  EXPECT_EQ(f.o, (std::vector<float>{0, 1, 0, 0, 0}));
  EXPECT_NEAR(f.du[0], 1.0 / 6.0, kTol);
  EXPECT_NEAR(f.du[1], u1 - 1.0 / 6.0, kTol);
  EXPECT_EQ(f.du[2], 0.0f);
  EXPECT_NEAR(f.du_t[0], 0.3, kTol);  // exponential: du_t = g
  EXPECT_NEAR(f.du_t[1], 2.58, kTol);
  EXPECT_EQ(f.du_t[2], 0.0f);
}

TEST(NeuronForward, LeakyOriginalUsesDuForDuT) {
  const auto f =
      RunForward(Net(config::ForwardType::kLeaky, config::GradientType::kOriginal),
                 {0.5f, 4.0f, 0.0f, 0.0f, 0.0f});
  EXPECT_EQ(f.o, (std::vector<float>{0, 1, 0, 0, 0}));
  EXPECT_EQ(f.du_t, f.du);
  EXPECT_NEAR(f.du[1], (3.52 - 26.0 / 9.0) * 2.5 - 1.0 / 6.0, kTol);
}

// Nonleaky: u = u_prev + g, du = du_t = g.
// t=0: g = 0.3, u = 0.3; t=1: g = 2.58, u = 2.88 ≥ 1: spike; then 0.
TEST(NeuronForward, NonleakyExponentialByHand) {
  const auto f =
      RunForward(Net(config::ForwardType::kNonleaky, config::GradientType::kExponential),
                 {0.5f, 4.0f, 0.0f, 0.0f, 0.0f});
  EXPECT_EQ(f.o, (std::vector<float>{0, 1, 0, 0, 0}));
  EXPECT_NEAR(f.du[0], 0.3, kTol);
  EXPECT_NEAR(f.du[1], 2.58, kTol);
  EXPECT_EQ(f.du, f.du_t);
  // A second spike after the reset needs a fresh 1.0 of potential: 0.6·I ≥ 1.
  const auto g =
      RunForward(Net(config::ForwardType::kNonleaky, config::GradientType::kExponential),
                 {2.0f, 0.0f, 1.0f, 1.0f, 0.0f});
  // t0: g=1.2 spike; t1: 0; t2: g=0.6, u=0.6; t3: g=(0.6+1)·0.6=0.96, u=1.56 spike; t4:
  // 0.
  EXPECT_EQ(g.o, (std::vector<float>{1, 0, 0, 1, 0}));
  EXPECT_NEAR(g.du[3], 0.96, kTol);
}

TEST(NeuronForward, ThresholdIsInclusive) {
  // Nonleaky with I = [1/0.6 = 1.6666666]: g = 1.6666666·0.6 rounds to 1.0 in float32.
  const float in = 1.0f / 0.6f;
  const float g = in * (1.0f - 0.4f);
  const auto f =
      RunForward(Net(config::ForwardType::kNonleaky, config::GradientType::kExponential),
                 {in, 0.0f});
  EXPECT_EQ(f.o[0], g >= 1.0f ? 1.0f : 0.0f);
}

// Backward of the leaky/exponential case with dL/do = [0.2, -1, 0.3, 0.4, 0.5]:
// e = dL/do ⊙ o = [0, -1, 0, 0, 0].
// t=4..2: no spike yet seen → 0. t=1: spike, pu = -1/1.4111 = -0.7086614,
//   put = -1/2.58; gw = e·pu = 0.7086614, gt = 1/2.58; k = 0:
//   grad_w[1] = gw·syn_a[0] = gw/3, grad_in[1] = gt·(-0.6).
// t=0: no spike, k = 1: grad_w[0] = gw·syn_a[1] = gw·0.4888889, grad_in[0] = gt·(-0.36).
TEST(NeuronBackward, LeakyExponentialByHand) {
  const auto net = Net(config::ForwardType::kLeaky, config::GradientType::kExponential);
  const auto f = RunForward(net, {0.5f, 4.0f, 0.0f, 0.0f, 0.0f});
  const auto b = RunBackward(net, f, {0.2f, -1.0f, 0.3f, 0.4f, 0.5f});
  const double du1 = (3.52 - 26.0 / 9.0) * 2.5 - 1.0 / 6.0;
  const double gw = 1.0 / du1;
  const double gt = 1.0 / 2.58;
  const double syn_a1 = (0.64 - 4.0 / 9.0) * 2.5;
  EXPECT_NEAR(b.grad_w[1], gw / 3.0, kTol);
  EXPECT_NEAR(b.grad_in[1], gt * -0.6, kTol);
  EXPECT_NEAR(b.grad_w[0], gw * syn_a1, kTol);
  EXPECT_NEAR(b.grad_in[0], gt * -0.36, kTol);
  for (int t = 2; t < 5; ++t) {  // no gradient after the last spike
    EXPECT_EQ(b.grad_w[t], 0.0f) << t;
    EXPECT_EQ(b.grad_in[t], 0.0f) << t;
  }
}

// Original: du_t = du, so put = pu = -1/du1; partial_a[k] = -(f(k+1) - f(k)).
// e = 2 at t=1: gw = gt = -2/du1.
//   t=1 (k=0): grad_w = gw·syn_a[0], grad_in = gt·(-(f(1) - f(0))) = gt·(-syn_a[0]).
//   t=0 (k=1): grad_w = gw·syn_a[1], grad_in = gt·(-(syn_a[1] - syn_a[0])).
TEST(NeuronBackward, LeakyOriginalByHand) {
  const auto net = Net(config::ForwardType::kLeaky, config::GradientType::kOriginal);
  const auto f = RunForward(net, {0.5f, 4.0f, 0.0f, 0.0f, 0.0f});
  const auto b = RunBackward(net, f, {0.0f, 2.0f, 0.0f, 0.0f, 0.0f});
  const double du1 = (3.52 - 26.0 / 9.0) * 2.5 - 1.0 / 6.0;
  const double gw = -2.0 / du1;
  const double syn_a0 = 1.0 / 3.0, syn_a1 = (0.64 - 4.0 / 9.0) * 2.5;
  EXPECT_NEAR(b.grad_w[1], gw * syn_a0, kTol);
  EXPECT_NEAR(b.grad_in[1], gw * -syn_a0, kTol);
  EXPECT_NEAR(b.grad_w[0], gw * syn_a1, kTol);
  EXPECT_NEAR(b.grad_in[0], gw * -(syn_a1 - syn_a0), kTol);
}

// Nonleaky/exponential: du = du_t = g; spike at t=1 with du = 2.58, e = 1.
TEST(NeuronBackward, NonleakyExponentialByHand) {
  const auto net =
      Net(config::ForwardType::kNonleaky, config::GradientType::kExponential);
  const auto f = RunForward(net, {0.5f, 4.0f, 0.0f, 0.0f, 0.0f});
  const auto b = RunBackward(net, f, {0.0f, 1.0f, 0.0f, 0.0f, 0.0f});
  const double p = -1.0 / 2.58;  // pu = put
  EXPECT_NEAR(b.grad_w[1], p / 3.0, kTol);
  EXPECT_NEAR(b.grad_in[1], p * -0.6, kTol);
  EXPECT_NEAR(b.grad_w[0], p * (0.64 - 4.0 / 9.0) * 2.5, kTol);
  EXPECT_NEAR(b.grad_in[0], p * -0.36, kTol);
}

TEST(NeuronBackward, SilentNeuronHasNoGradient) {
  const auto net = Net(config::ForwardType::kLeaky, config::GradientType::kExponential);
  const auto f = RunForward(net, {0.1f, 0.1f, 0.1f, 0.1f, 0.1f});
  ASSERT_EQ(f.o, (std::vector<float>(5, 0.0f)));
  const auto b = RunBackward(net, f, {1.0f, -2.0f, 3.0f, -4.0f, 5.0f});
  EXPECT_EQ(b.grad_w, (std::vector<float>(5, 0.0f)));
  EXPECT_EQ(b.grad_in, (std::vector<float>(5, 0.0f)));
}

// §3 clamping: -1/du with du = 0 is -inf → -4 for pu and -max_dudt_inv for put; a
// negative du gives a positive -1/du → 0; a tiny positive du clamps at -4.
TEST(NeuronBackward, ClampsMinusOneOverZero) {
  const auto net = Net(config::ForwardType::kLeaky, config::GradientType::kExponential);
  const KernelTables tables = ComputeKernelTables(net, 3);
  const std::vector<float> o = {1, 1, 1};
  const std::vector<float> du = {0.0f, -0.5f, 1e-9f};
  const std::vector<float> du_t = {0.0f, -0.5f, 1e-12f};
  const std::vector<float> e = {1, 1, 1};
  std::vector<float> grad_w(3), grad_in(3);
  ASSERT_TRUE(Cpu()
                  ->NeuronBackward({.steps = 3,
                                    .n = 1,
                                    .max_dudt_inv = MaxDudtInv(net),
                                    .e = e.data(),
                                    .o = o.data(),
                                    .du = du.data(),
                                    .du_t = du_t.data(),
                                    .syn_a = tables.syn_a.data(),
                                    .partial_a = tables.partial_a.data(),
                                    .grad_w = grad_w.data(),
                                    .grad_in = grad_in.data()})
                  .ok());
  EXPECT_EQ(MaxDudtInv(net), 123456792.0f);
  // Every step spikes, so k = 0 everywhere: grad_w = pu·syn_a[0], grad_in = put·(-0.6).
  EXPECT_FLOAT_EQ(grad_w[0], -4.0f * tables.syn_a[0]);
  EXPECT_FLOAT_EQ(grad_in[0], -123456792.0f * tables.partial_a[0]);
  EXPECT_EQ(grad_w[1], 0.0f);
  EXPECT_EQ(grad_in[1], 0.0f);
  EXPECT_FLOAT_EQ(grad_w[2], -4.0f * tables.syn_a[0]);
  EXPECT_FLOAT_EQ(grad_in[2], -123456792.0f * tables.partial_a[0]);  // -1e12 clamps
}

}  // namespace
}  // namespace edbp

// The losses of ALGORITHM.md §8 through core/loss on the CPU backend, against numbers
// derived by hand (or by an independent double-precision loop) in the test.
#include "core/loss/loss.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace edbp {
namespace {

using ::testing::ElementsAre;

using testing::Host;

Tensor F32(Shape shape, const std::vector<float>& values) {
  return testing::MakeTensor(std::move(shape), values);
}

Tensor I32(const std::vector<int32_t>& values) { return testing::MakeLabels(values); }

// [T, B, C] from per-(b, c) spike trains: trains[b][c][t].
std::vector<float> TimeMajor(const std::vector<std::vector<std::vector<float>>>& trains) {
  const size_t batch = trains.size(), classes = trains[0].size(),
               steps = trains[0][0].size();
  std::vector<float> out(steps * batch * classes);
  for (size_t b = 0; b < batch; ++b) {
    for (size_t c = 0; c < classes; ++c) {
      for (size_t t = 0; t < steps; ++t)
        out[(t * batch + b) * classes + c] = trains[b][c][t];
    }
  }
  return out;
}

config::NetworkConfig CountConfig(bool loss_reverse) {
  config::NetworkConfig network;
  network.loss = config::LossType::kCount;
  network.desired_count = 4;
  network.undesired_count = 1;
  network.loss_reverse = loss_reverse;
  return network;
}

// T = 5, B = 2, C = 3, desired 4, undesired 1; δ = (count - target)/5 (§8).
//   sample 0, label 1:
//     class 0: 1 1 1 0 0, count 3, target 1: δ = +0.4 (undesired, > 0: kept)
//     class 1: 0 1 0 1 0, count 2, target 4: δ = -0.4 (desired, < 0: kept)
//     class 2: 0 0 0 0 0, count 0, target 1: δ = -0.2 (undesired, < 0: zeroed)
//   sample 1, label 0:
//     class 0: 1 1 1 1 1, count 5, target 4: δ = +0.2 (desired, > 0: zeroed)
//     class 1: 0 0 0 0 1, count 1, target 1: δ = 0
//     class 2: 1 0 1 0 1, count 3, target 1: δ = +0.4 (kept)
// loss = ½ Σ_{t,b,n} δ² = ½ · 5 · 3 · 0.4² = 1.2.
struct CountCase {
  Tensor outputs =
      F32({5, 2, 3}, TimeMajor({{{1, 1, 1, 0, 0}, {0, 1, 0, 1, 0}, {0, 0, 0, 0, 0}},
                                {{1, 1, 1, 1, 1}, {0, 0, 0, 0, 1}, {1, 0, 1, 0, 1}}}));
  Tensor labels = I32({1, 0});
};

TEST(CountLossTest, ValueAndReversedGradient) {
  CountCase c;
  auto loss = Loss::Create(CountConfig(/*loss_reverse=*/true));
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_STREQ((*loss)->name(), "count");
  Tensor grad;
  auto value = (*loss)->Compute(c.outputs, c.labels, &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  // ½ · T · 3 · δ² with δ the float32 0.4 (its square is exact in double).
  const double delta = 0.4f;
  EXPECT_DOUBLE_EQ(*value, 0.5 * 5 * 3 * delta * delta);
  EXPECT_NEAR(*value, 1.2, 1e-6);
  ASSERT_EQ(grad.shape(), (Shape{5, 2, 3}));
  // loss_reverse: dL/do[t] = -δ at every t.
  const std::vector<float> g = Host(grad);
  for (int t = 0; t < 5; ++t) {
    EXPECT_THAT(std::vector<float>(g.begin() + t * 6, g.begin() + t * 6 + 6),
                ElementsAre(-0.4f, 0.4f, 0.0f, 0.0f, 0.0f, -0.4f))
        << "t=" << t;
  }
}

TEST(CountLossTest, ForwardSignWithoutLossReverse) {
  CountCase c;
  auto loss = Loss::Create(CountConfig(/*loss_reverse=*/false));
  ASSERT_TRUE(loss.ok()) << loss.status();
  Tensor grad;
  auto value = (*loss)->Compute(c.outputs, c.labels, &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(*value, 1.2, 1e-6);  // the sign touches only the gradient
  const std::vector<float> g = Host(grad);
  EXPECT_THAT(std::vector<float>(g.begin() + 24, g.end()),  // t = 4
              ElementsAre(0.4f, -0.4f, 0.0f, 0.0f, 0.0f, 0.4f));
}

TEST(CountLossTest, ReusesAMatchingGradBuffer) {
  CountCase c;
  auto loss = Loss::Create(CountConfig(true));
  ASSERT_TRUE(loss.ok());
  Tensor grad;
  ASSERT_TRUE((*loss)->Compute(c.outputs, c.labels, &grad).ok());
  const float* first = grad.f32();
  ASSERT_TRUE((*loss)->Compute(c.outputs, c.labels, &grad).ok());
  EXPECT_EQ(grad.f32(), first);
}

TEST(CountLossTest, LabelOutOfRangeMatchesNoClass) {
  // One sample, T = 2, C = 2, label 7: both classes take undesired = 1.
  //   class 0: 1 1, count 2: δ = (2-1)/2 = +0.5 (kept); class 1: 0 0: δ = -0.5 (zeroed)
  // loss = ½ · 2 · 0.25 = 0.25.
  auto loss = Loss::Create(CountConfig(true));
  ASSERT_TRUE(loss.ok());
  Tensor grad;
  auto value = (*loss)->Compute(F32({2, 1, 2}, {1, 0, 1, 0}), I32({7}), &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_DOUBLE_EQ(*value, 0.25);
  EXPECT_THAT(Host(grad), ElementsAre(-0.5f, 0.0f, -0.5f, 0.0f));
}

TEST(KernelLossTargetTest, ShortAndLongTrains) {
  // §8: T < 8: 1 at every t >= 1; T >= 8: 1 at t >= 1 with (T-1-t) even.
  EXPECT_THAT(KernelLossTarget(5), ElementsAre(0, 1, 1, 1, 1));
  EXPECT_THAT(KernelLossTarget(8), ElementsAre(0, 1, 0, 1, 0, 1, 0, 1));
  EXPECT_THAT(KernelLossTarget(9), ElementsAre(0, 0, 1, 0, 1, 0, 1, 0, 1));
}

config::NetworkConfig KernelConfig(double tau_s) {
  config::NetworkConfig network;
  network.loss = config::LossType::kKernel;
  network.tau_s = tau_s;
  network.loss_reverse = true;
  return network;
}

// T = 5 (target 0 1 1 1 1), τs = 2 so s_t = ½ s_{t-1} + d_t, P_t = s_t / 2; B = 1,
// C = 2, label 0. Every number below is a short binary fraction, exact in float.
//   class 0: o = 1 0 1 1 0, d = o - target = 1 -1 0 0 -1
//     s = 1, -0.5, -0.25, -0.125, -1.0625;  P = 0.5, -0.25, -0.125, -0.0625, -0.53125
//     ΣP² = 0.25 + 0.0625 + 0.015625 + 0.00390625 + 0.2822265625 = 0.6142578125
//   class 1: o = d = 0 1 0 0 0
//     s = 0, 1, 0.5, 0.25, 0.125;  P = 0, 0.5, 0.25, 0.125, 0.0625;  ΣP² = 0.33203125
//   loss = ½ (0.6142578125 + 0.33203125) = 0.47314453125
// dL/dd_t = g_t = P_t/2 + ½ g_{t+1}:
//   class 0: g = 0.1513671875, -0.197265625, -0.14453125, -0.1640625, -0.265625
//   class 1: g = 0.166015625, 0.33203125, 0.1640625, 0.078125, 0.03125
// and dL/do = -g (loss_reverse).
TEST(KernelLossTest, HandComputedShortTrain) {
  auto loss = Loss::Create(KernelConfig(2.0));
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_STREQ((*loss)->name(), "kernel");
  const Tensor outputs = F32({5, 1, 2}, TimeMajor({{{1, 0, 1, 1, 0}, {0, 1, 0, 0, 0}}}));
  Tensor grad;
  auto value = (*loss)->Compute(outputs, I32({0}), &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_DOUBLE_EQ(*value, 0.47314453125);
  EXPECT_THAT(Host(grad), ElementsAre(-0.1513671875f, -0.166015625f,  //
                                      0.197265625f, -0.33203125f,     //
                                      0.14453125f, -0.1640625f,       //
                                      0.1640625f, -0.078125f,         //
                                      0.265625f, -0.03125f));
}

// T = 9 (the alternating target), τs = 5, B = 2, C = 3, against the closed forms of
// §8 evaluated in double by a separate loop: P_t = (1/τs) Σ_{t'≤t} a^{t-t'} d_{t'},
// dL/do_t = -(1/τs) Σ_{t'≥t} a^{t'-t} P_{t'}, a = 1 - 1/τs.
TEST(KernelLossTest, MatchesClosedFormLongTrain) {
  constexpr int kT = 9, kB = 2, kC = 3;
  constexpr double kTau = 5;
  const std::vector<int32_t> labels = {2, 0};
  std::vector<float> o(kT * kB * kC);
  for (size_t i = 0; i < o.size(); ++i) o[i] = ((i * 7 + i / 5) % 3 == 0) ? 1.0f : 0.0f;
  auto loss = Loss::Create(KernelConfig(kTau));
  ASSERT_TRUE(loss.ok()) << loss.status();
  Tensor grad;
  auto value = (*loss)->Compute(F32({kT, kB, kC}, o), I32(labels), &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  const std::vector<float> g = Host(grad);

  const std::vector<float> target = {0, 0, 1, 0, 1, 0, 1, 0, 1};
  const double a = 1 - 1 / kTau;
  double expected_loss = 0;
  for (int b = 0; b < kB; ++b) {
    for (int c = 0; c < kC; ++c) {
      double d[kT], p[kT];
      for (int t = 0; t < kT; ++t) {
        d[t] = o[(t * kB + b) * kC + c] - (c == labels[b] ? target[t] : 0.0);
      }
      for (int t = 0; t < kT; ++t) {
        double s = 0;
        for (int u = 0; u <= t; ++u) s += std::pow(a, t - u) * d[u];
        p[t] = s / kTau;
        expected_loss += 0.5 * p[t] * p[t];
      }
      for (int t = 0; t < kT; ++t) {
        double sum = 0;
        for (int u = t; u < kT; ++u) sum += std::pow(a, u - t) * p[u];
        EXPECT_NEAR(g[(t * kB + b) * kC + c], -sum / kTau, 1e-6)
            << "b=" << b << " c=" << c << " t=" << t;
      }
    }
  }
  EXPECT_NEAR(*value, expected_loss, 1e-6 * expected_loss);
}

TEST(KernelLossTest, RejectsNonPositiveTau) {
  EXPECT_EQ(Loss::Create(KernelConfig(0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// T = 2, B = 2, C = 3, labels (2, 0). Loss = mean over the 4 (t, b) rows of
// log Σ_n e^{o_n} - o_label; dL/do = -(softmax - onehot)/4 (loss_reverse), evaluated
// here directly in double without the max shift the kernel uses.
TEST(TetLossTest, MatchesDirectDoubleFormula) {
  constexpr int kT = 2, kB = 2, kC = 3;
  const std::vector<float> o = {1, 0, 0,   // t=0 b=0
                                0, 1, 1,   // t=0 b=1
                                1, 1, 0,   // t=1 b=0
                                0, 0, 0};  // t=1 b=1
  const std::vector<int32_t> labels = {2, 0};
  config::NetworkConfig network;
  network.loss = config::LossType::kTet;
  network.loss_reverse = true;
  auto loss = Loss::Create(network);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_STREQ((*loss)->name(), "TET");
  Tensor grad;
  auto value = (*loss)->Compute(F32({kT, kB, kC}, o), I32(labels), &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  const std::vector<float> g = Host(grad);

  double expected = 0;
  for (int r = 0; r < kT * kB; ++r) {
    const int label = labels[r % kB];
    double z = 0;
    for (int n = 0; n < kC; ++n) z += std::exp(static_cast<double>(o[r * kC + n]));
    expected += -std::log(std::exp(static_cast<double>(o[r * kC + label])) / z);
    for (int n = 0; n < kC; ++n) {
      const double softmax = std::exp(static_cast<double>(o[r * kC + n])) / z;
      const double want = -(softmax - (n == label ? 1.0 : 0.0)) / (kB * kT);
      EXPECT_NEAR(g[r * kC + n], want, 1e-7) << "row " << r << " class " << n;
    }
  }
  expected /= kB * kT;
  EXPECT_NEAR(*value, expected, 1e-12);
  // Row t=1 b=1 is all zeros with label 0: its loss is log 3, its gradient -(1/3 - 1)/4.
  EXPECT_NEAR(g[9], (1.0 - 1.0 / 3) / 4, 1e-7);
}

}  // namespace
}  // namespace edbp

// Optimisers and gradient clipping (ALGORITHM.md §10) on the CPU backend, against
// numbers derived by hand in the comments (PyTorch 1.13 formulas).
#include "core/optim/optimizer.h"

#include <cmath>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace edbp {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;

using testing::Host;

Tensor F32(const std::vector<float>& values) {
  return testing::MakeTensor({static_cast<int64_t>(values.size())}, values);
}

Parameter Param(std::string name, const std::vector<float>& value,
                const std::vector<float>& grad, bool is_norm = false) {
  return {std::move(name), F32(value), F32(grad), is_norm};
}

config::NetworkConfig Network(config::OptimizerType type, double weight_decay,
                              double norm_grad = 1) {
  config::NetworkConfig network;
  network.optimizer = type;
  network.weight_decay = weight_decay;
  network.norm_grad = norm_grad;
  return network;
}

std::unique_ptr<Optimizer> Make(const config::NetworkConfig& network,
                                std::vector<Parameter> params) {
  auto opt = Optimizer::Create(network, std::move(params));
  EXPECT_TRUE(opt.ok()) << opt.status();
  return std::move(opt).value();
}

// ---- SGD ---------------------------------------------------------------------------

TEST(SgdTest, OneStepWithoutWeightDecay) {
  // p -= lr · g: 1 - 0.1·0.5 = 0.95; -2 - 0.1·0.25 = -2.025.
  Parameter w = Param("w", {1.0f, -2.0f}, {0.5f, 0.25f});
  auto opt = Make(Network(config::OptimizerType::kSgd, 0), {w});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(0.95f, -2.025f));
  EXPECT_EQ(opt->step_count(), 1);
}

TEST(SgdTest, OneStepWithCoupledWeightDecay) {
  // d = g + wd·p; p -= lr·d:
  //   d = 0.5 + 0.01·1 = 0.51,     p = 1 - 0.1·0.51 = 0.949
  //   d = 0.25 + 0.01·(-2) = 0.23, p = -2 - 0.1·0.23 = -2.023
  Parameter w = Param("w", {1.0f, -2.0f}, {0.5f, 0.25f});
  auto opt = Make(Network(config::OptimizerType::kSgd, 0.01), {w});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(0.949f, -2.023f));
}

TEST(SgdTest, NormGroupStepsAtLrTimesNormGrad) {
  // W at lr 0.1: 1 - 0.05 = 0.95; g at lr 0.1·0.5 = 0.05: 1 - 0.05·0.5 = 0.975.
  Parameter w = Param("w", {1.0f}, {0.5f});
  Parameter g = Param("g", {1.0f}, {0.5f}, /*is_norm=*/true);
  auto opt = Make(Network(config::OptimizerType::kSgd, 0, /*norm_grad=*/0.5), {w, g});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(0.95f));
  EXPECT_THAT(Host(g.value), ElementsAre(0.975f));
}

TEST(SgdTest, NormGradZeroLeavesGainAndBiasUnchanged) {
  // norm_grad 0: the g/b group steps at lr 0, p + (-0)·d = p exactly (with decay too).
  Parameter w = Param("w", {1.0f}, {0.5f});
  Parameter g = Param("g", {1.25f, -0.75f}, {0.5f, 3.0f}, true);
  Parameter b = Param("b", {0.125f}, {-2.0f}, true);
  auto opt = Make(Network(config::OptimizerType::kSgd, 0.01, /*norm_grad=*/0), {w, g, b});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(0.949f));
  EXPECT_THAT(Host(g.value), ElementsAre(1.25f, -0.75f));
  EXPECT_THAT(Host(b.value), ElementsAre(0.125f));
}

TEST(SgdTest, RejectsNegativeLr) {
  Parameter w = Param("w", {1.0f}, {0.5f});
  auto opt = Make(Network(config::OptimizerType::kSgd, 0), {w});
  EXPECT_EQ(opt->Step(-0.1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->step_count(), 0);
}

TEST(OptimizerTest, RejectsNegativeWeightDecayOrNormGrad) {
  EXPECT_EQ(
      Optimizer::Create(Network(config::OptimizerType::kAdam, -1), {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Optimizer::Create(Network(config::OptimizerType::kAdam, 0, -1), {}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

// ---- Adam / AdamW --------------------------------------------------------------------
// p = 1, g = 0.5, lr = 0.1, β = (0.9, 0.999), ε = 1e-8 throughout.

TEST(AdamTest, OneStepWithCoupledWeightDecay) {
  // wd 0.01: g' = 0.5 + 0.01·1 = 0.51
  //   m = 0.1·0.51 = 0.051;  v = 0.001·0.51² = 0.0002601
  //   bias corrections 1 - 0.9 = 0.1, 1 - 0.999 = 0.001; step size 0.1/0.1 = 1
  //   denom = sqrt(0.0002601)/sqrt(0.001) + 1e-8 = 0.51 + 1e-8
  //   p = 1 - 1 · 0.051/(0.51 + 1e-8) = 0.9000000019607843
  Parameter w = Param("w", {1.0f}, {0.5f});
  auto opt = Make(Network(config::OptimizerType::kAdam, 0.01), {w});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(FloatNear(0.9000000019607843f, 2e-7f)));
  EXPECT_THAT(Host(opt->exp_avg(0)), ElementsAre(FloatNear(0.051f, 1e-8f)));
  EXPECT_THAT(Host(opt->exp_avg_sq(0)), ElementsAre(FloatNear(0.0002601f, 1e-10f)));
}

TEST(AdamTest, TwoStepsChangeTheBiasCorrection) {
  // wd 0, grads 0.5 then 0.25.
  // step 1: m = 0.05, v = 0.001·0.25 = 0.00025; m̂ = 0.5, sqrt(v̂) = 0.5
  //         p = 1 - 0.1·0.5/(0.5 + 1e-8) = 0.900000002
  // step 2: m = 0.9·0.05 + 0.1·0.25 = 0.07
  //         v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225
  //         bias corrections 1 - 0.9² = 0.19, 1 - 0.999² = 0.001999
  //         step size = 0.1/0.19 = 0.5263157894736844
  //         denom = sqrt(0.00031225)/sqrt(0.001999) + 1e-8 = 0.3952253907016669
  //         p = 0.900000002 - 0.5263157894736844·0.07/0.3952253907016669
  //           = 0.900000002 - 0.0932179615225377 = 0.8067820404774623
  Parameter w = Param("w", {1.0f}, {0.5f});
  auto opt = Make(Network(config::OptimizerType::kAdam, 0), {w});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(FloatNear(0.900000002f, 2e-7f)));
  ASSERT_TRUE(w.grad.CopyFrom(F32({0.25f})).ok());
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_EQ(opt->step_count(), 2);
  EXPECT_THAT(Host(opt->exp_avg(0)), ElementsAre(FloatNear(0.07f, 2e-8f)));
  EXPECT_THAT(Host(opt->exp_avg_sq(0)), ElementsAre(FloatNear(0.00031225f, 1e-10f)));
  EXPECT_THAT(Host(w.value), ElementsAre(FloatNear(0.8067820404774623f, 2e-7f)));
}

TEST(AdamWTest, OneStepWithDecoupledWeightDecay) {
  // wd 0.01: p = 1·(1 - 0.1·0.01) = 0.999 first; then the plain Adam step on g = 0.5:
  //   m = 0.05, v = 0.00025, m̂ = 0.5, sqrt(v̂) = 0.5
  //   p = 0.999 - 0.1·0.5/(0.5 + 1e-8) = 0.899000002
  Parameter w = Param("w", {1.0f}, {0.5f});
  auto opt = Make(Network(config::OptimizerType::kAdamW, 0.01), {w});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(FloatNear(0.899000002f, 2e-7f)));
  EXPECT_THAT(Host(opt->exp_avg(0)), ElementsAre(FloatNear(0.05f, 1e-8f)));
  EXPECT_THAT(Host(opt->exp_avg_sq(0)), ElementsAre(FloatNear(0.00025f, 1e-10f)));
}

TEST(AdamWTest, NormGradZeroLeavesGainUnchangedButAdvancesMoments) {
  // norm group lr 0: decay factor 1 - 0·wd = 1 and step size 0, so g stays 1.25
  // exactly while its moments advance (m = 0.1·0.5 = 0.05).
  Parameter w = Param("w", {1.0f}, {0.5f});
  Parameter g = Param("g", {1.25f}, {0.5f}, true);
  auto opt = Make(Network(config::OptimizerType::kAdamW, 0.01, 0), {w, g});
  ASSERT_TRUE(opt->Step(0.1).ok());
  EXPECT_THAT(Host(w.value), ElementsAre(FloatNear(0.899000002f, 2e-7f)));
  EXPECT_THAT(Host(g.value), ElementsAre(1.25f));
  EXPECT_THAT(Host(opt->exp_avg(1)), ElementsAre(FloatNear(0.05f, 1e-8f)));
}

// ---- state ---------------------------------------------------------------------------

TEST(OptimizerStateTest, RoundTripGivesAnIdenticalNextStep) {
  const std::vector<float> w0 = {0.5f, -1.5f, 2.0f}, g0 = {0.3f, -0.2f, 0.1f};
  const std::vector<float> b0 = {0.25f}, gb0 = {-0.4f};
  Parameter w = Param("fc.weight", w0, g0);
  Parameter b = Param("fc.norm_bias", b0, gb0, true);
  auto a = Make(Network(config::OptimizerType::kAdamW, 0.01, 0.5), {w, b});
  ASSERT_TRUE(a->Step(0.1).ok());

  auto state = a->ExportState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->step, 1);
  ASSERT_EQ(state->moments.size(), 2u);
  EXPECT_EQ(state->moments[0].name, "fc.weight");
  EXPECT_EQ(state->moments[1].exp_avg.size(), 1u);

  // A fresh optimiser over copies of the stepped values, with the state imported.
  Parameter w2 = Param("fc.weight", Host(w.value), g0);
  Parameter b2 = Param("fc.norm_bias", Host(b.value), gb0, true);
  auto fresh = Make(Network(config::OptimizerType::kAdamW, 0.01, 0.5), {w2, b2});
  ASSERT_TRUE(fresh->ImportState(*state).ok());
  EXPECT_EQ(fresh->step_count(), 1);

  ASSERT_TRUE(a->Step(0.05).ok());
  ASSERT_TRUE(fresh->Step(0.05).ok());
  EXPECT_EQ(Host(w2.value), Host(w.value));
  EXPECT_EQ(Host(b2.value), Host(b.value));
  EXPECT_EQ(Host(fresh->exp_avg(0)), Host(a->exp_avg(0)));
  EXPECT_EQ(Host(fresh->exp_avg_sq(1)), Host(a->exp_avg_sq(1)));
  EXPECT_EQ(fresh->step_count(), 2);
}

TEST(OptimizerStateTest, ImportRejectsMismatchesWithoutChangingAnything) {
  Parameter w = Param("w", {1.0f, 2.0f}, {0.5f, 0.5f});
  auto opt = Make(Network(config::OptimizerType::kAdam, 0), {w});
  auto good = opt->ExportState();
  ASSERT_TRUE(good.ok());

  OptimizerState renamed = *good;
  renamed.step = 7;
  renamed.moments[0].name = "v";
  EXPECT_EQ(opt->ImportState(renamed).code(), absl::StatusCode::kInvalidArgument);

  OptimizerState resized = *good;
  resized.step = 7;
  resized.moments[0].exp_avg.push_back(1.0f);
  EXPECT_EQ(opt->ImportState(resized).code(), absl::StatusCode::kInvalidArgument);

  OptimizerState sgd_state;  // no moments
  sgd_state.step = 7;
  EXPECT_EQ(opt->ImportState(sgd_state).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(opt->step_count(), 0);

  auto sgd = Make(Network(config::OptimizerType::kSgd, 0), {w});
  EXPECT_EQ(sgd->ImportState(*good).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(sgd->ImportState(sgd_state).ok());
  EXPECT_EQ(sgd->step_count(), 7);
}

// ---- clipping ------------------------------------------------------------------------

TEST(ClipGradNormTest, NormFiveIsScaledToOne) {
  // grads (3) and (4, 0): n = sqrt(9 + 16) = 5; c = 1/(5 + 1e-6) < 1, so every grad is
  // multiplied by c: 3c ≈ 0.6, 4c ≈ 0.8, 0 stays 0.
  std::vector<Parameter> params = {Param("a", {1.0f}, {3.0f}),
                                   Param("frozen", {1.0f, 1.0f}, {4.0f, 0.0f})};
  auto norm = ClipGradNorm(params, 1.0);
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_DOUBLE_EQ(*norm, 5.0);
  const float c = static_cast<float>(1.0 / (5.0 + 1e-6));
  EXPECT_THAT(Host(params[0].grad), ElementsAre(3.0f * c));
  EXPECT_THAT(Host(params[1].grad), ElementsAre(4.0f * c, 0.0f));
  EXPECT_NEAR(3.0f * c, 0.6, 1e-6);
  EXPECT_NEAR(4.0f * c, 0.8, 1e-6);
  // The clipped norm is just under 1.
  auto after = ClipGradNorm(params, 1.0);
  ASSERT_TRUE(after.ok());
  EXPECT_NEAR(*after, 1.0, 1e-6);
}

TEST(ClipGradNormTest, NormBelowOneIsUntouched) {
  // n = sqrt(0.09 + 0.16) = 0.5: c = 1/0.500001 > 1, nothing changes.
  std::vector<Parameter> params = {Param("a", {1.0f, 1.0f}, {0.3f, 0.4f})};
  auto norm = ClipGradNorm(params, 1.0);
  ASSERT_TRUE(norm.ok());
  EXPECT_NEAR(*norm, 0.5, 1e-7);
  EXPECT_THAT(Host(params[0].grad), ElementsAre(0.3f, 0.4f));
}

}  // namespace
}  // namespace edbp

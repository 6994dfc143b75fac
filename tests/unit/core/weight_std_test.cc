// Weight standardisation (ALGORITHM.md §4) on a 2×3 weight: forward and both
// backward modes against a direct double-precision calculation written here.
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "tests/test_util.h"

namespace edbp {
namespace {

using testing::Cpu;

const std::vector<float> kW = {0.5f, -1.0f, 2.0f, 0.1f, 0.2f, 0.3f};
const std::vector<float> kG = {2.0f, 0.5f};
const std::vector<float> kB = {0.1f, -0.2f};
const std::vector<float> kGrad = {1.0f, 2.0f, -1.0f, 0.5f, -0.5f, 0.25f};  // dL/dŴ

// Ŵ in double for arbitrary W (used for finite differences too).
std::vector<double> WHat(const std::vector<double>& w) {
  std::vector<double> out(6);
  for (int c = 0; c < 2; ++c) {
    const double mean = (w[3 * c] + w[3 * c + 1] + w[3 * c + 2]) / 3.0;
    double ss = 0;
    for (int j = 0; j < 3; ++j) ss += (w[3 * c + j] - mean) * (w[3 * c + j] - mean);
    const double var = ss / 2.0;  // unbiased: M - 1 = 2
    for (int j = 0; j < 3; ++j) {
      out[3 * c + j] = (w[3 * c + j] - mean) / std::sqrt(var + 1e-5) * kG[c] + kB[c];
    }
  }
  return out;
}

struct Result {
  std::vector<float> w_hat = std::vector<float>(6), mean = std::vector<float>(2),
                     var = std::vector<float>(2), grad_w = std::vector<float>(6),
                     grad_g = std::vector<float>(2), grad_b = std::vector<float>(2);
};

Result RunStd(bool exact) {
  Result r;
  EXPECT_TRUE(Cpu()
                  ->WeightStdForward({.c_out = 2,
                                      .m = 3,
                                      .w = kW.data(),
                                      .g = kG.data(),
                                      .b = kB.data(),
                                      .w_hat = r.w_hat.data(),
                                      .mean = r.mean.data(),
                                      .var = r.var.data()})
                  .ok());
  EXPECT_TRUE(Cpu()
                  ->WeightStdBackward({.c_out = 2,
                                       .m = 3,
                                       .exact = exact,
                                       .grad_w_hat = kGrad.data(),
                                       .w = kW.data(),
                                       .g = kG.data(),
                                       .b = kB.data(),
                                       .mean = r.mean.data(),
                                       .var = r.var.data(),
                                       .grad_w = r.grad_w.data(),
                                       .grad_g = r.grad_g.data(),
                                       .grad_b = r.grad_b.data()})
                  .ok());
  return r;
}

TEST(WeightStd, ForwardByHand) {
  const Result r = RunStd(false);
  // Row 0: mean 0.5, deviations (0, -1.5, 1.5), unbiased var 4.5/2 = 2.25.
  // Row 1: mean 0.2, deviations (-0.1, 0, 0.1), var 0.02/2 = 0.01.
  EXPECT_NEAR(r.mean[0], 0.5, 1e-7);
  EXPECT_NEAR(r.var[0], 2.25, 1e-6);
  EXPECT_NEAR(r.mean[1], 0.2, 1e-7);
  EXPECT_NEAR(r.var[1], 0.01, 1e-8);
  const double r0 = 1 / std::sqrt(2.25 + 1e-5), r1 = 1 / std::sqrt(0.01 + 1e-5);
  EXPECT_NEAR(r.w_hat[0], 0.1, 1e-6);
  EXPECT_NEAR(r.w_hat[1], -1.5 * r0 * 2 + 0.1, 1e-6);
  EXPECT_NEAR(r.w_hat[2], 1.5 * r0 * 2 + 0.1, 1e-6);
  EXPECT_NEAR(r.w_hat[3], -0.1 * r1 * 0.5 - 0.2, 1e-5);
  EXPECT_NEAR(r.w_hat[4], -0.2, 1e-5);
  EXPECT_NEAR(r.w_hat[5], 0.1 * r1 * 0.5 - 0.2, 1e-5);
  const std::vector<double> wd(kW.begin(), kW.end());
  const std::vector<double> expected = WHat(wd);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.w_hat[i], expected[i], 2e-5) << i;
}

TEST(WeightStd, ReferenceBackwardFormulas) {
  const Result r = RunStd(false);
  const double mean[2] = {0.5, 0.2}, var[2] = {2.25, 0.01};
  for (int c = 0; c < 2; ++c) {
    const double s = 1 / std::sqrt(var[c] + 1e-5);
    double sum_g = 0, sum_gw = 0;
    for (int j = 0; j < 3; ++j) {
      const int i = 3 * c + j;
      const double w_hat = (kW[i] - mean[c]) * s * kG[c] + kB[c];
      sum_g += kGrad[i];
      sum_gw += kGrad[i] * w_hat;
      // §4: G' = G·g; grad_W = G'·r + (G'(W-μ)/M·(-0.5)·r³)·2(W-μ)/M + (-G'·r)/M
      const double gp = kGrad[i] * kG[c];
      const double d = kW[i] - mean[c];
      const double expected =
          gp * s + (gp * d / 3 * -0.5 * s * s * s) * 2 * d / 3 + (-gp * s) / 3;
      EXPECT_NEAR(r.grad_w[i], expected, 1e-4 * std::max(1.0, std::fabs(expected))) << i;
    }
    EXPECT_NEAR(r.grad_b[c], sum_g, 1e-6) << c;
    EXPECT_NEAR(r.grad_g[c], sum_gw, 1e-5) << c;
  }
  EXPECT_FLOAT_EQ(r.grad_b[0], 2.0f);   // 1 + 2 - 1
  EXPECT_FLOAT_EQ(r.grad_b[1], 0.25f);  // 0.5 - 0.5 + 0.25
}

// The exact mode is the true gradient of L = Σ G ⊙ Ŵ(W): central finite differences in
// double agree with it, and not with the reference's elementwise formulas (§4).
TEST(WeightStd, ExactBackwardMatchesFiniteDifferences) {
  const Result exact = RunStd(true);
  const Result reference = RunStd(false);
  const double h = 1e-6;
  double max_ref_diff = 0;
  for (int i = 0; i < 6; ++i) {
    std::vector<double> plus(kW.begin(), kW.end()), minus(kW.begin(), kW.end());
    plus[i] += h;
    minus[i] -= h;
    const auto wp = WHat(plus), wm = WHat(minus);
    double lp = 0, lm = 0;
    for (int j = 0; j < 6; ++j) {
      lp += kGrad[j] * wp[j];
      lm += kGrad[j] * wm[j];
    }
    const double fd = (lp - lm) / (2 * h);
    EXPECT_NEAR(exact.grad_w[i], fd, 2e-3 * std::max(1.0, std::fabs(fd))) << i;
    max_ref_diff = std::max(max_ref_diff, std::fabs(reference.grad_w[i] - fd));
  }
  EXPECT_GT(max_ref_diff, 0.1);  // the reference's formulas are not the true gradient
  // grad_g of the exact mode is Σ G·(W-μ)·r (without b).
  const double r0 = 1 / std::sqrt(2.25 + 1e-5);
  EXPECT_NEAR(exact.grad_g[0], (1 * 0 + 2 * -1.5 + -1 * 1.5) * r0, 1e-5);
}

// The layers write dL/dŴ where dL/dW goes and convert it in place (ops.h allows
// grad_w == grad_w_hat): bit for bit what a separate output gets, in both modes, on a
// shape with full vectors, a remainder and several channels (and, through ctest, at
// every instruction-set level).
TEST(WeightStd, BackwardInPlaceEqualsSeparateOutput) {
  const int64_t c_out = 7, m = 301;
  std::vector<float> w(c_out * m), grad(c_out * m), g(c_out), b(c_out);
  for (int64_t i = 0; i < c_out * m; ++i) {
    w[i] = std::sin(0.37f * static_cast<float>(i)) * 0.8f;
    grad[i] = std::cos(0.11f * static_cast<float>(i) + 0.5f);
  }
  for (int64_t c = 0; c < c_out; ++c) {
    g[c] = 0.5f + 0.25f * static_cast<float>(c);
    b[c] = 0.05f * static_cast<float>(c) - 0.1f;
  }
  std::vector<float> w_hat(c_out * m), mean(c_out), var(c_out);
  ASSERT_TRUE(Cpu()
                  ->WeightStdForward({.c_out = c_out,
                                      .m = m,
                                      .w = w.data(),
                                      .g = g.data(),
                                      .b = b.data(),
                                      .w_hat = w_hat.data(),
                                      .mean = mean.data(),
                                      .var = var.data()})
                  .ok());
  for (const bool exact : {false, true}) {
    std::vector<float> separate(c_out * m), gg(c_out), gb(c_out);
    ASSERT_TRUE(Cpu()
                    ->WeightStdBackward({.c_out = c_out,
                                         .m = m,
                                         .exact = exact,
                                         .grad_w_hat = grad.data(),
                                         .w = w.data(),
                                         .g = g.data(),
                                         .b = b.data(),
                                         .mean = mean.data(),
                                         .var = var.data(),
                                         .grad_w = separate.data(),
                                         .grad_g = gg.data(),
                                         .grad_b = gb.data()})
                    .ok());
    std::vector<float> in_place = grad, gg2(c_out), gb2(c_out);
    ASSERT_TRUE(Cpu()
                    ->WeightStdBackward({.c_out = c_out,
                                         .m = m,
                                         .exact = exact,
                                         .grad_w_hat = in_place.data(),
                                         .w = w.data(),
                                         .g = g.data(),
                                         .b = b.data(),
                                         .mean = mean.data(),
                                         .var = var.data(),
                                         .grad_w = in_place.data(),
                                         .grad_g = gg2.data(),
                                         .grad_b = gb2.data()})
                    .ok());
    EXPECT_EQ(in_place, separate) << "exact=" << exact;
    EXPECT_EQ(gg2, gg) << "exact=" << exact;
    EXPECT_EQ(gb2, gb) << "exact=" << exact;
    EXPECT_NE(separate, grad);  // the conversion did change the values
  }
}

}  // namespace
}  // namespace edbp

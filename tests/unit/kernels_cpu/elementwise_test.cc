#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {
namespace {

using Floats = std::vector<float>;

TEST(ElementwiseTest, Fill) {
  Floats out(5, 1.0f);
  FillArgs args;
  args.n = 4;
  args.value = -2.5f;
  args.out = out.data();
  Fill(args);
  EXPECT_EQ(out, (Floats{-2.5f, -2.5f, -2.5f, -2.5f, 1.0f}));  // n respected
}

TEST(ElementwiseTest, FillLarge) {
  Floats out(300001, 0.0f);
  FillArgs args;
  args.n = static_cast<int64_t>(out.size());
  args.value = 3.0f;
  args.out = out.data();
  Fill(args);
  EXPECT_EQ(out, Floats(out.size(), 3.0f));
}

TEST(ElementwiseTest, ScaleInPlace) {
  Floats x = {1, -2, 0.5f, 4};
  ScaleArgs args;
  args.n = 4;
  args.alpha = 0.85f;
  args.x = x.data();
  args.out = x.data();
  Scale(args);
  EXPECT_EQ(x, (Floats{0.85f, -1.7f, 0.85f * 0.5f, 3.4f}));
}

TEST(ElementwiseTest, MulMultipliesByInputFirstThenAlpha) {
  // (a·b)·alpha differs from a·(b·alpha) in float: 3 · 0.1 · 0.85 is the example.
  Floats a = {3, 2, -1, 0};
  const Floats b = {0.1f, 0.5f, 4, 7};
  const float alpha = 0.85f;
  const float in_order = (3.0f * 0.1f) * alpha;
  ASSERT_NE(in_order, 3.0f * (0.1f * alpha)) << "example no longer distinguishes orders";
  MulArgs args;
  args.n = 4;
  args.alpha = alpha;
  args.a = a.data();
  args.b = b.data();
  args.out = a.data();  // aliases a
  Mul(args);
  EXPECT_EQ(a, (Floats{in_order, 0.85f, -3.4f, 0}));
}

TEST(ElementwiseTest, Axpy) {
  const Floats x = {1, 2, 3};
  Floats y = {10, 20, 30};
  AxpyArgs args;
  args.n = 3;
  args.alpha = -0.5f;
  args.x = x.data();
  args.y = y.data();
  Axpy(args);
  EXPECT_EQ(y, (Floats{9.5f, 19, 28.5f}));
}

TEST(ElementwiseTest, LargeOpsMatchScalarLoops) {
  // Large enough for the pool to split the range.
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t n = 1 << 20;
  Floats a(n), b(n), y(n);
  for (int64_t i = 0; i < n; ++i) {
    a[i] = dist(rng);
    b[i] = dist(rng);
    y[i] = dist(rng);
  }
  Floats mul(n), axpy = y;
  MulArgs m;
  m.n = n;
  m.alpha = 0.85f;
  m.a = a.data();
  m.b = b.data();
  m.out = mul.data();
  Mul(m);
  AxpyArgs ax;
  ax.n = n;
  ax.alpha = 1.5f;
  ax.x = a.data();
  ax.y = axpy.data();
  Axpy(ax);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(mul[i], (a[i] * b[i]) * 0.85f) << i;
    ASSERT_EQ(axpy[i], y[i] + 1.5f * a[i]) << i;
  }
}

double RunSumSquares(const Floats& x) {
  double result = -1;
  SumSquaresArgs args;
  args.n = static_cast<int64_t>(x.size());
  args.x = x.data();
  args.result = &result;
  SumSquares(args);
  return result;
}

TEST(ElementwiseTest, SumSquaresSmall) {
  EXPECT_EQ(RunSumSquares({1, -2, 3}), 14.0);
  EXPECT_EQ(RunSumSquares({}), 0.0);
  // Accumulated in double: 1e7² + 1² is not representable in float but is in double.
  EXPECT_EQ(RunSumSquares({1e7f, 1}), 1e14 + 1);
}

TEST(ElementwiseTest, SumSquaresMatchesDoubleLoopOnAMillion) {
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  Floats x(1000003);
  for (float& v : x) v = dist(rng);
  double want = 0;
  for (const float v : x) want += static_cast<double>(v) * v;
  const double got = RunSumSquares(x);
  EXPECT_NEAR(got, want, 1e-12 * want);
  EXPECT_EQ(RunSumSquares(x), got);  // deterministic
}

TEST(ElementwiseTest, DropoutMaskIsSharedAcrossStepsAndInnerPositions) {
  // steps 2, rows 3, inner 2: out[t,r,i] = x[t,r,i]·mask[r].
  const Floats mask = {2, 0, 0.5f};
  Floats x(12);
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i + 1);
  Floats out(12, -1.0f);
  DropoutApplyArgs args;
  args.steps = 2;
  args.rows = 3;
  args.inner = 2;
  args.mask = mask.data();
  args.x = x.data();
  args.out = out.data();
  DropoutApply(args);
  EXPECT_EQ(out, (Floats{2, 4, 0, 0, 2.5f, 3,  //
                         14, 16, 0, 0, 5.5f, 6}));
  // In place, inner = 1 (a [T, B, N] tensor).
  Floats y = {1, 2, 3, 4, 5, 6};
  args.steps = 2;
  args.rows = 3;
  args.inner = 1;
  args.x = y.data();
  args.out = y.data();
  DropoutApply(args);
  EXPECT_EQ(y, (Floats{2, 0, 1.5f, 8, 0, 3}));
}

TEST(ElementwiseTest, DropoutLarge) {
  const int64_t steps = 5, rows = 250 * 32, inner = 14 * 14;
  Floats mask(rows), x(steps * rows * inner, 1.0f);
  for (int64_t r = 0; r < rows; ++r) mask[r] = static_cast<float>(r % 3);
  DropoutApplyArgs args;
  args.steps = steps;
  args.rows = rows;
  args.inner = inner;
  args.mask = mask.data();
  args.x = x.data();
  args.out = x.data();
  DropoutApply(args);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < inner; ++i)
        ASSERT_EQ(x[(t * rows + r) * inner + i], static_cast<float>(r % 3));
}

}  // namespace
}  // namespace edbp::kernels::cpu

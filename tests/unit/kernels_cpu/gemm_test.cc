#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {
namespace {

std::vector<float> Random(int64_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

struct Shape {
  int64_t m, n, k;
};

// Checks Gemm against a double-precision triple loop for one transpose combination,
// with padded leading dimensions; the padding of C must stay untouched.
void CheckGemm(bool trans_a, bool trans_b, Shape s, float alpha, float beta,
               std::mt19937& rng) {
  SCOPED_TRACE(testing::Message() << "trans_a=" << trans_a << " trans_b=" << trans_b
                                  << " m=" << s.m << " n=" << s.n << " k=" << s.k);
  const int64_t lda = (trans_a ? s.m : s.k) + 3;
  const int64_t ldb = (trans_b ? s.k : s.n) + 2;
  const int64_t ldc = s.n + 5;
  const std::vector<float> a = Random((trans_a ? s.k : s.m) * lda, rng);
  const std::vector<float> b = Random((trans_b ? s.n : s.k) * ldb, rng);
  const std::vector<float> c0 = Random(s.m * ldc, rng);
  auto op_a = [&](int64_t i, int64_t p) {
    return trans_a ? a[p * lda + i] : a[i * lda + p];
  };
  auto op_b = [&](int64_t p, int64_t j) {
    return trans_b ? b[j * ldb + p] : b[p * ldb + j];
  };

  std::vector<float> c = c0;
  GemmArgs args;
  args.trans_a = trans_a;
  args.trans_b = trans_b;
  args.m = s.m;
  args.n = s.n;
  args.k = s.k;
  args.alpha = alpha;
  args.a = a.data();
  args.lda = lda;
  args.b = b.data();
  args.ldb = ldb;
  args.beta = beta;
  args.c = c.data();
  args.ldc = ldc;
  Gemm(args);

  int64_t failures = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = c[i * ldc + j];
      if (j >= s.n) {
        ASSERT_EQ(got, c0[i * ldc + j]) << "padding of C changed at " << i << "," << j;
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double term = static_cast<double>(op_a(i, p)) * op_b(p, j);
        sum += term;
        magnitude += std::fabs(term);
      }
      const double c_old = c0[i * ldc + j];
      const double want = alpha * sum + beta * c_old;
      const double tol =
          1e-5 * (std::fabs(alpha) * magnitude + std::fabs(beta * c_old)) + 1e-7;
      if (std::fabs(got - want) > tol && ++failures <= 5) {
        ADD_FAILURE() << "C[" << i << "," << j << "] = " << got << ", want " << want;
      }
    }
  }
  EXPECT_EQ(failures, 0);
}

class GemmTest : public testing::Test {
 protected:
  void SetUp() override { openblas_set_num_threads(1); }
};

TEST_F(GemmTest, MatchesNaiveLoopForAllTransposes) {
  std::mt19937 rng(12345);
  // The last two shapes are large enough to be split into row blocks over the pool.
  const Shape shapes[] = {{1, 1, 1},      {7, 5, 3},      {33, 17, 65},
                          {200, 130, 90}, {301, 64, 257}, {1030, 33, 70}};
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) {
      for (const Shape& s : shapes) CheckGemm(trans_a, trans_b, s, 0.75f, -0.5f, rng);
    }
  }
}

TEST_F(GemmTest, AlphaOneBetaOne) {
  std::mt19937 rng(7);
  CheckGemm(false, true, {250, 64, 196}, 1.0f, 1.0f, rng);
  CheckGemm(true, false, {129, 40, 31}, 1.0f, 1.0f, rng);
}

TEST_F(GemmTest, BetaZeroIgnoresGarbageInC) {
  // beta = 0 must overwrite C, even where it holds NaN (uninitialised buffers).
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // [2,3]
  const std::vector<float> b = {1, 0, 0, 1, 1, 1};  // [3,2]
  std::vector<float> c(4, std::numeric_limits<float>::quiet_NaN());
  GemmArgs args;
  args.m = 2;
  args.n = 2;
  args.k = 3;
  args.a = a.data();
  args.lda = 3;
  args.b = b.data();
  args.ldb = 2;
  args.beta = 0;
  args.c = c.data();
  args.ldc = 2;
  Gemm(args);
  EXPECT_EQ(c, (std::vector<float>{4, 5, 10, 11}));
}

TEST_F(GemmTest, EmptyInnerDimensionScalesC) {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  const float dummy = 0;
  GemmArgs args;
  args.m = 2;
  args.n = 3;
  args.k = 0;
  args.a = &dummy;
  args.lda = 1;
  args.b = &dummy;
  args.ldb = 3;
  args.beta = 2;
  args.c = c.data();
  args.ldc = 3;
  Gemm(args);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8, 10, 12}));
}

}  // namespace
}  // namespace edbp::kernels::cpu

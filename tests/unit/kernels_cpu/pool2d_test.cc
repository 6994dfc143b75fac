#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {
namespace {

using Floats = std::vector<float>;

Pool2dShape MakeShape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh,
                      int64_t kw) {
  Pool2dShape s;
  s.n = n;
  s.c = c;
  s.h = h;
  s.w = w;
  s.kh = kh;
  s.kw = kw;
  return s;
}

Floats Forward(const Pool2dShape& s, PoolType type, const Floats& x) {
  Floats y(static_cast<size_t>(s.n * s.c * s.out_h() * s.out_w()), -99.0f);
  Pool2dForwardArgs args;
  args.shape = s;
  args.type = type;
  args.x = x.data();
  args.y = y.data();
  Pool2dForward(args);
  return y;
}

Floats Backward(const Pool2dShape& s, PoolType type, const Floats& x, const Floats& dy) {
  const Floats y = Forward(s, type, x);
  Floats dx(x.size(), -99.0f);  // must be overwritten everywhere
  Pool2dBackwardArgs args;
  args.shape = s;
  args.type = type;
  args.x = x.data();
  args.y = y.data();
  args.dy = dy.data();
  args.dx = dx.data();
  Pool2dBackward(args);
  return dx;
}

void ExpectFloatsEq(const Floats& got, const Floats& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << "at " << i;
}

// 4×4 spikes, 2×2 windows: window sums 1, 3 / 0, 4.
const Floats kX4 = {1, 0, 1, 1,  //
                    0, 0, 1, 0,  //
                    0, 0, 1, 1,  //
                    0, 0, 1, 1};
// 5×5 spikes, 2×2 windows (last row and column dropped): window sums 3, 1 / 3, 1.
const Floats kX5 = {1, 1, 0, 0, 1,  //
                    0, 1, 0, 1, 1,  //
                    1, 0, 0, 0, 0,  //
                    1, 1, 0, 1, 0,  //
                    1, 0, 1, 1, 1};
// 4×7 spikes, 2×3 windows (last column dropped): window sums 2, 3 / 0, 3.
const Floats kX47 = {1, 0, 0, 0, 0, 0, 1,  //
                     0, 0, 1, 1, 1, 1, 0,  //
                     0, 0, 0, 0, 1, 0, 1,  //
                     0, 0, 0, 1, 0, 1, 1};
const Floats kDy = {1, 2, 3, 4};

TEST(Pool2dTest, Forward4x4) {
  const Pool2dShape s = MakeShape(1, 1, 4, 4, 2, 2);
  ExpectFloatsEq(Forward(s, PoolType::kAvg, kX4), {0.25f, 0.75f, 0, 1});
  ExpectFloatsEq(Forward(s, PoolType::kAdjustedAvg, kX4), {0.25f, 0.75f, 0, 1});
  ExpectFloatsEq(Forward(s, PoolType::kMax, kX4), {1, 1, 0, 1});
}

TEST(Pool2dTest, Forward5x5DropsEdges) {
  const Pool2dShape s = MakeShape(1, 1, 5, 5, 2, 2);
  ExpectFloatsEq(Forward(s, PoolType::kAvg, kX5), {0.75f, 0.25f, 0.75f, 0.25f});
  ExpectFloatsEq(Forward(s, PoolType::kMax, kX5), {1, 1, 1, 1});
}

TEST(Pool2dTest, ForwardRectangularKernel) {
  const Pool2dShape s = MakeShape(1, 1, 4, 7, 2, 3);
  ExpectFloatsEq(Forward(s, PoolType::kAvg, kX47), {2.0f / 6.0f, 0.5f, 0, 0.5f});
  ExpectFloatsEq(Forward(s, PoolType::kMax, kX47), {1, 1, 0, 1});
}

TEST(Pool2dTest, AvgBackward) {
  ExpectFloatsEq(Backward(MakeShape(1, 1, 4, 4, 2, 2), PoolType::kAvg, kX4, kDy),
                 {0.25f, 0.25f, 0.5f, 0.5f,  //
                  0.25f, 0.25f, 0.5f, 0.5f,  //
                  0.75f, 0.75f, 1, 1,        //
                  0.75f, 0.75f, 1, 1});
  // Dropped edges get 0.
  ExpectFloatsEq(Backward(MakeShape(1, 1, 5, 5, 2, 2), PoolType::kAvg, kX5, kDy),
                 {0.25f, 0.25f, 0.5f, 0.5f, 0,  //
                  0.25f, 0.25f, 0.5f, 0.5f, 0,  //
                  0.75f, 0.75f, 1,    1,    0,  //
                  0.75f, 0.75f, 1,    1,    0,  //
                  0,     0,     0,    0,    0});
  const float a = 1.0f / 6, b = 2.0f / 6, c = 3.0f / 6, d = 4.0f / 6;
  ExpectFloatsEq(Backward(MakeShape(1, 1, 4, 7, 2, 3), PoolType::kAvg, kX47, kDy),
                 {a, a, a, b, b, b, 0,  //
                  a, a, a, b, b, b, 0,  //
                  c, c, c, d, d, d, 0,  //
                  c, c, c, d, d, d, 0});
}

TEST(Pool2dTest, MaxBackwardGoesToFirstMaximum) {
  // Ties (a window of 1 1 / 1 0, an all-ones and an all-zeros window) go to the
  // first element in row-major order.
  ExpectFloatsEq(Backward(MakeShape(1, 1, 4, 4, 2, 2), PoolType::kMax, kX4, kDy),
                 {1, 0, 2, 0,  //
                  0, 0, 0, 0,  //
                  3, 0, 4, 0,  //
                  0, 0, 0, 0});
  ExpectFloatsEq(Backward(MakeShape(1, 1, 5, 5, 2, 2), PoolType::kMax, kX5, kDy),
                 {1, 0, 0, 0, 0,  //
                  0, 0, 0, 2, 0,  //
                  3, 0, 0, 0, 0,  //
                  0, 0, 0, 4, 0,  //
                  0, 0, 0, 0, 0});
  ExpectFloatsEq(Backward(MakeShape(1, 1, 4, 7, 2, 3), PoolType::kMax, kX47, kDy),
                 {1, 0, 0, 0, 0, 0, 0,  //
                  0, 0, 0, 2, 0, 0, 0,  //
                  3, 0, 0, 0, 4, 0, 0,  //
                  0, 0, 0, 0, 0, 0, 0});
  // Analog values: the first of two equal maxima wins; negative values work.
  const Floats x = {0.5f, 0.7f, 0.7f, 0.2f, -3, -1, -2, -1};
  const Pool2dShape s = MakeShape(1, 2, 2, 2, 2, 2);
  ExpectFloatsEq(Forward(s, PoolType::kMax, x), {0.7f, -1});
  ExpectFloatsEq(Backward(s, PoolType::kMax, x, {5, 6}), {0, 5, 0, 0, 0, 6, 0, 0});
}

TEST(Pool2dTest, AdjustedBackward4x4) {
  // y = .25, .75 / 0, 1 → a = 1/y = 4, 4/3, inf→0, 1; a/4 = 1, 1/3, 0, 1/4;
  // dy·a = 1, 2/3, 0, 1, each copied to its 2×2 window.
  const float t = 2 * ((1.0f / 0.75f) / 4);
  ExpectFloatsEq(Backward(MakeShape(1, 1, 4, 4, 2, 2), PoolType::kAdjustedAvg, kX4, kDy),
                 {1, 1, t, t,  //
                  1, 1, t, t,  //
                  0, 0, 1, 1,  //
                  0, 0, 1, 1});
  EXPECT_FLOAT_EQ(t, 0.6666667f);
}

TEST(Pool2dTest, AdjustedBackward5x5UsesNearestUpsampling) {
  // y = .75, .25 / .75, .25 → dy·a = 1/3, 2 / 1, 4. Nearest upsampling 2 → 5:
  // source = floor(i·2/5) = 0, 0, 0, 1, 1 for rows and columns, so input row 2 (part
  // of window row 1) takes window row 0's value, and the dropped edge gets a value.
  const float q = (1.0f / 0.75f) / 4;
  ExpectFloatsEq(Backward(MakeShape(1, 1, 5, 5, 2, 2), PoolType::kAdjustedAvg, kX5, kDy),
                 {q,     q,     q,     2, 2,  //
                  q,     q,     q,     2, 2,  //
                  q,     q,     q,     2, 2,  //
                  3 * q, 3 * q, 3 * q, 4, 4,  //
                  3 * q, 3 * q, 3 * q, 4, 4});
  EXPECT_FLOAT_EQ(q, 0.33333334f);
  EXPECT_FLOAT_EQ(3 * q, 1.0f);
}

TEST(Pool2dTest, AdjustedBackwardRectangularKernel) {
  // y = 1/3, 1/2 / 0, 1/2 → a/6 = 1/2, 1/3, 0, 1/3 → dy·a = 1/2, 2/3, 0, 4/3.
  // Rows 4 → 2: 0, 0, 1, 1. Columns 7 → 2: floor(j·2/7) = 0, 0, 0, 0, 1, 1, 1.
  const float a = 0.5f, b = 2 * (2.0f / 6), d = 4 * (2.0f / 6);
  ExpectFloatsEq(Backward(MakeShape(1, 1, 4, 7, 2, 3), PoolType::kAdjustedAvg, kX47, kDy),
                 {a, a, a, a, b, b, b,  //
                  a, a, a, a, b, b, b,  //
                  0, 0, 0, 0, d, d, d,  //
                  0, 0, 0, 0, d, d, d});
}

TEST(Pool2dTest, AdjustedBackwardCutsSmallAveragesOff) {
  // Analog inputs (dropout-scaled or pooled values): a = 1/y is set to 0 where it
  // exceeds kh·kw + 1 = 5, i.e. for 0 < y < 0.2, not only for y = 0. Windows:
  // y = 0.1 (1/y = 10: cut), y = 0.1875 (5.33: cut), y = 0.2f (1/y rounds to exactly
  // 5: kept, a = 5/4), y = 2 (a = 0.5/4 = 0.125).
  const Floats x = {0.1f, 0.1f, 0.25f, 0.25f,  //
                    0.1f, 0.1f, 0.25f, 0,      //
                    0.2f, 0.2f, 2,     2,      //
                    0.2f, 0.2f, 2,     2};
  const Pool2dShape s = MakeShape(1, 1, 4, 4, 2, 2);
  ExpectFloatsEq(Forward(s, PoolType::kAdjustedAvg, x), {0.1f, 0.1875f, 0.2f, 2});
  ASSERT_EQ(1.0f / 0.2f, 5.0f);
  ExpectFloatsEq(Backward(s, PoolType::kAdjustedAvg, x, kDy),
                 {0, 0, 0, 0,                //
                  0, 0, 0, 0,                //
                  3.75f, 3.75f, 0.5f, 0.5f,  //
                  3.75f, 3.75f, 0.5f, 0.5f});
}

TEST(Pool2dTest, AdjustedBackwardDividesByWindowSize) {
  // 3×3 window with 5 spikes: y = 5/9 = 0.555555582f, 1/y = 1.79999995f, and the
  // reference's a / 9 (PyTorch CPU divides) is 0.199999988f, one ulp below what a
  // multiplication by float(1/9) gives (0.200000003f).
  const Floats x = {1, 1, 0, 1, 0, 1, 0, 1, 0};
  const Pool2dShape s = MakeShape(1, 1, 3, 3, 3, 3);
  const Floats dx = Backward(s, PoolType::kAdjustedAvg, x, {1});
  ASSERT_NE(0.199999988f, 0.200000003f);
  EXPECT_EQ(dx, Floats(9, 0.199999988f));
}

// Runs the adjusted backward on an h×1 input with a kh×1 kernel, pooled value y = 1
// everywhere (so a = 1/kh) and dy[o] = o·kh, so dx[i] ≈ source row of i; returns the
// source row of every input row.
std::vector<int64_t> UpsampleRows(int64_t h, int64_t kh) {
  const Pool2dShape s = MakeShape(1, 1, h, 1, kh, 1);
  const int64_t oh = s.out_h();
  Floats y(static_cast<size_t>(oh), 1.0f), dy(static_cast<size_t>(oh));
  for (int64_t o = 0; o < oh; ++o) dy[o] = static_cast<float>(o * kh);
  Floats dx(static_cast<size_t>(h));
  Pool2dBackwardArgs args;
  args.shape = s;
  args.type = PoolType::kAdjustedAvg;
  args.y = y.data();
  args.dy = dy.data();
  args.dx = dx.data();
  Pool2dBackward(args);
  std::vector<int64_t> rows;
  for (const float v : dx) rows.push_back(std::lround(v));
  return rows;
}

TEST(Pool2dTest, UpsampleIndexMatchesExactFormulaForSmallSizes) {
  EXPECT_EQ(UpsampleRows(5, 2), (std::vector<int64_t>{0, 0, 0, 1, 1}));
  EXPECT_EQ(UpsampleRows(7, 3), (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}));
  // PyTorch's float32 index floor(i·float(oh/h)) equals the exact floor(i·oh/h) for
  // every input size up to 73.
  for (int64_t h = 1; h <= 73; ++h) {
    for (int64_t kh = 1; kh <= h; ++kh) {
      const int64_t oh = h / kh;
      std::vector<int64_t> want;
      for (int64_t i = 0; i < h; ++i) want.push_back(std::min(i * oh / h, oh - 1));
      ASSERT_EQ(UpsampleRows(h, kh), want) << "h=" << h << " kh=" << kh;
    }
  }
}

TEST(Pool2dTest, UpsampleIndexKeepsPyTorchFloatRounding) {
  // h = 74, kernel 3 → oh = 24: exactly 37·24/74 = 12, but float32(24/74) rounds
  // down and floor(37 · 0.32432431f) = 11, which is what PyTorch computes.
  const std::vector<int64_t> rows = UpsampleRows(74, 3);
  EXPECT_EQ(rows[36], 11);
  EXPECT_EQ(rows[37], 11);
  EXPECT_EQ(rows[38], 12);
}

TEST(Pool2dTest, AdjustedPreservesWindowSumsAfterSpikeMask) {
  // ALGORITHM.md §13: for 0/1 inputs whose sizes are multiples of the kernel,
  // Σ over a window of dx·x equals dy when the window has a spike; dx is 0 on windows
  // without spikes.
  std::mt19937 rng(31);
  std::bernoulli_distribution spike(0.3);
  std::uniform_real_distribution<float> grad(-2.0f, 2.0f);
  const Pool2dShape shapes[] = {
      MakeShape(2, 3, 8, 12, 2, 2), MakeShape(2, 3, 8, 12, 2, 3),
      MakeShape(1, 4, 16, 16, 4, 4), MakeShape(3, 2, 6, 10, 3, 5)};
  for (const Pool2dShape& s : shapes) {
    Floats x(static_cast<size_t>(s.n * s.c * s.h * s.w));
    for (float& v : x) v = spike(rng) ? 1.0f : 0.0f;
    Floats dy(static_cast<size_t>(s.n * s.c * s.out_h() * s.out_w()));
    for (float& v : dy) v = grad(rng);
    const Floats dx = Backward(s, PoolType::kAdjustedAvg, x, dy);
    int64_t spiking_windows = 0;
    for (int64_t p = 0; p < s.n * s.c; ++p) {
      for (int64_t oy = 0; oy < s.out_h(); ++oy) {
        for (int64_t ox = 0; ox < s.out_w(); ++ox) {
          double masked_sum = 0;
          int spikes = 0;
          bool all_zero = true;
          for (int64_t i = oy * s.kh; i < (oy + 1) * s.kh; ++i) {
            for (int64_t j = ox * s.kw; j < (ox + 1) * s.kw; ++j) {
              const int64_t at = (p * s.h + i) * s.w + j;
              masked_sum += static_cast<double>(dx[at]) * x[at];
              spikes += x[at] != 0;
              all_zero = all_zero && dx[at] == 0;
            }
          }
          const float g = dy[(p * s.out_h() + oy) * s.out_w() + ox];
          if (spikes > 0) {
            ++spiking_windows;
            EXPECT_NEAR(masked_sum, g, 1e-6 * std::fabs(g) + 1e-7);
          } else {
            EXPECT_TRUE(all_zero);
          }
        }
      }
    }
    EXPECT_GT(spiking_windows, 0);
  }
}

// The 2×2 average and adjusted-average paths (the Fashion-MNIST and CIFAR shapes take a
// specialised loop) give the bits of the general formulas: scan-order sum / 4, and
// dx[i, j] = dy[i/2, j/2] · (1/y cut at kh·kw + 1) / 4. Odd sizes drop an edge and
// take the general path.
TEST(Pool2dTest, TwoByTwoWindowsMatchGeneralFormulasBitForBit) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> quarter(0, 4);
  std::uniform_real_distribution<float> grad(-2.0f, 2.0f);
  for (const auto& [h, w] :
       {std::pair<int64_t, int64_t>{28, 28}, {14, 14}, {6, 10}, {7, 9}, {4, 70}}) {
    const Pool2dShape s = MakeShape(3, 5, h, w, 2, 2);
    const int64_t oh = s.out_h(), ow = s.out_w(), planes = s.n * s.c;
    Floats x(static_cast<size_t>(planes * h * w));
    for (float& v : x) v = 0.25f * static_cast<float>(quarter(rng)) * (quarter(rng) > 2);
    Floats dy(static_cast<size_t>(planes * oh * ow));
    for (float& v : dy) v = grad(rng);
    Floats want_y(dy.size()), want_dx(x.size());
    for (int64_t p = 0; p < planes; ++p) {
      const float* in = x.data() + p * h * w;
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          float sum = 0;
          for (int64_t ky = 0; ky < 2; ++ky) {
            for (int64_t kx = 0; kx < 2; ++kx) sum += in[(2 * oy + ky) * w + 2 * ox + kx];
          }
          want_y[p * oh * ow + oy * ow + ox] = sum / 4.0f;
        }
      }
      for (int64_t i = 0; i < h; ++i) {
        for (int64_t j = 0; j < w; ++j) {
          // Nearest source (exact i/2 only when h = 2·oh; otherwise PyTorch's float
          // scale, which UpsampleIndex* tests cover).
          const int64_t si = std::min<int64_t>(
              static_cast<int64_t>(
                  std::floor(static_cast<float>(i) *
                             (static_cast<float>(oh) / static_cast<float>(h)))),
              oh - 1);
          const int64_t sj = std::min<int64_t>(
              static_cast<int64_t>(
                  std::floor(static_cast<float>(j) *
                             (static_cast<float>(ow) / static_cast<float>(w)))),
              ow - 1);
          const int64_t o = p * oh * ow + si * ow + sj;
          float a = 1.0f / want_y[o];
          if (a > 5.0f) a = 0;
          a = a / 4.0f;
          want_dx[p * h * w + i * w + j] = dy[o] * a;
        }
      }
    }
    const Floats y = Forward(s, PoolType::kAdjustedAvg, x);
    const Floats dx = Backward(s, PoolType::kAdjustedAvg, x, dy);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(want_y[i]))
          << h << "x" << w << " y at " << i;
    }
    for (size_t i = 0; i < dx.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(dx[i]), std::bit_cast<uint32_t>(want_dx[i]))
          << h << "x" << w << " dx at " << i;
    }
  }
}

TEST(Pool2dTest, PlanesAreIndependent) {
  // Several samples and channels: each plane pools on its own.
  const Pool2dShape s = MakeShape(2, 3, 2, 2, 2, 2);
  const Floats x = {1,  2,  3,  4,  0, 0, 0, 8, 1, 1, 1, 1,
                    -1, -2, -3, -4, 5, 5, 5, 5, 0, 0, 0, 0};
  ExpectFloatsEq(Forward(s, PoolType::kAvg, x), {2.5f, 2, 1, -2.5f, 5, 0});
  ExpectFloatsEq(Forward(s, PoolType::kMax, x), {4, 8, 1, -1, 5, 0});
}

}  // namespace
}  // namespace edbp::kernels::cpu

// The event-driven (sparse) paths of Gemm and the convolutions (kernels/cpu/sparse.h)
// against direct double-precision loops and against the dense BLAS path, at densities
// 0, 2 %, 25 % and 100 %, on shapes that cover every register-block width, column
// tails, strides, padding and dilation; and the exactness of skipping zeros: modes auto
// and off give the same bits.
#include "kernels/cpu/sparse.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"

namespace edbp::kernels::cpu {
namespace {

using Floats = std::vector<float>;

// Caps the instruction-set level for the scope, restoring the previous cap after.
class ScopedIsa {
 public:
  explicit ScopedIsa(CpuIsa cap) : saved_(SetCpuIsaCap(cap)) {}
  ~ScopedIsa() { SetCpuIsaCap(saved_); }

 private:
  CpuIsa saved_;
};

// The levels below the active one (isa.h); each runs its own variants of the kernels.
std::vector<CpuIsa> LowerLevels() {
  std::vector<CpuIsa> levels;
  for (const CpuIsa level : {CpuIsa::kAvx2, CpuIsa::kPortable}) {
    if (level < ActiveCpuIsa()) levels.push_back(level);
  }
  return levels;
}

// Sets the sparse mode for the scope, restoring the previous one after.
class ScopedMode {
 public:
  explicit ScopedMode(SparseMode mode) : saved_(GetSparseMode()) { SetSparseMode(mode); }
  ~ScopedMode() { SetSparseMode(saved_); }

 private:
  SparseMode saved_;
};

// Spike-like values: 0 with probability 1 - density (+0 or -0, as a product can
// leave), else a multiple of 1/4 in (0, 1] (spikes after 2×2 average pooling) or, when
// `analog`, uniform in [-1, 1].
Floats Sparse(int64_t count, double density, bool analog, std::mt19937& rng) {
  std::bernoulli_distribution on(density), negative_zero(0.5);
  std::uniform_int_distribution<int> quarter(1, 4);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  Floats v(static_cast<size_t>(count));
  for (float& x : v) {
    if (on(rng)) {
      x = analog ? value(rng) : 0.25f * static_cast<float>(quarter(rng));
    } else if (negative_zero(rng)) {
      x = -0.0f;
    }
  }
  return v;
}

constexpr SparseMode kAllModes[] = {SparseMode::kAlways, SparseMode::kOff,
                                    SparseMode::kAuto, SparseMode::kBlas};

std::string ModeName(SparseMode mode) {
  switch (mode) {
    case SparseMode::kAuto:
      return "auto";
    case SparseMode::kOff:
      return "off";
    case SparseMode::kAlways:
      return "always";
    case SparseMode::kBlas:
      return "blas";
  }
  return "?";
}

// Whether a and b hold the same bits.
bool SameBits(const Floats& a, const Floats& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The first index where a and b differ in their bits, for the failure message.
std::string FirstDifference(const Floats& a, const Floats& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) {
      char text[96];
      std::snprintf(text, sizeof(text), "[%zu]: %.9g vs %.9g", i, a[i], b[i]);
      return text;
    }
  }
  return "sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
}

// Modes auto and off give the same bits (off runs the same kernel over every entry,
// or BLAS where auto does); when the event-driven path ran (`event_driven`), so does
// always, which skips zeros wherever it can.
void ExpectExactSkipping(const std::map<SparseMode, Floats>& out, bool event_driven,
                         const std::string& what) {
  const Floats& on = out.at(SparseMode::kAuto);
  const Floats& off = out.at(SparseMode::kOff);
  EXPECT_TRUE(SameBits(on, off)) << what << ": auto vs off " << FirstDifference(on, off);
  if (event_driven) {
    const Floats& always = out.at(SparseMode::kAlways);
    EXPECT_TRUE(SameBits(always, off))
        << what << ": always vs off " << FirstDifference(always, off);
  }
}

// An operand drawn with this density surely lies below the crossover: auto and off take
// the event-driven kernels (with no non-zero at all, at every crossover).
bool ClearlyBelow(double density, double crossover) {
  return density == 0.0 || density < crossover - 0.03;
}

// |got - want| <= 1e-5 · Σ|terms| + 1e-7 for every entry.
void ExpectClose(const Floats& got, const std::vector<double>& want,
                 const std::vector<double>& magnitude, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = 1e-5 * magnitude[i] + 1e-7;
    if (std::fabs(got[i] - want[i]) > tol && ++failures <= 3) {
      ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", want " << want[i];
    }
  }
}

// ---- GEMM ---------------------------------------------------------------------------

struct GemmCase {
  bool trans_a, trans_b;
  int64_t m, n, k;
  int64_t pad;  // extra leading-dimension slack
};

class SparseGemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(SparseGemmTest, MatchesDirectSumsAndDensePath) {
  const GemmCase c = GetParam();
  std::mt19937 rng(7);
  const int64_t lda = (c.trans_a ? c.m : c.k) + c.pad;
  const int64_t ldb = (c.trans_b ? c.k : c.n) + c.pad;
  const int64_t a_rows = c.trans_a ? c.k : c.m, b_rows = c.trans_b ? c.n : c.k;
  for (const double density : {0.0, 0.02, 0.25, 1.0}) {
    const Floats a = Sparse(a_rows * lda, density, /*analog=*/true, rng);
    const Floats b = Sparse(b_rows * ldb, 1.0, /*analog=*/true, rng);
    auto op_a = [&](int64_t i, int64_t j) {
      return c.trans_a ? a[j * lda + i] : a[i * lda + j];
    };
    auto op_b = [&](int64_t i, int64_t j) {
      return c.trans_b ? b[j * ldb + i] : b[i * ldb + j];
    };
    std::vector<double> want(static_cast<size_t>(c.m * c.n)), mag(want.size());
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        for (int64_t p = 0; p < c.k; ++p) {
          const double t = static_cast<double>(op_a(i, p)) * op_b(p, j);
          want[i * c.n + j] += t;
          mag[i * c.n + j] += std::fabs(t);
        }
      }
    }
    GemmArgs args{.trans_a = c.trans_a,
                  .trans_b = c.trans_b,
                  .m = c.m,
                  .n = c.n,
                  .k = c.k,
                  .alpha = 1.0f,
                  .a = a.data(),
                  .lda = lda,
                  .b = b.data(),
                  .ldb = ldb,
                  .beta = 0.0f,
                  .ldc = c.n};
    std::map<SparseMode, Floats> outputs;
    for (const SparseMode mode : kAllModes) {
      ScopedMode scoped(mode);
      Floats& out = outputs[mode];
      out.assign(static_cast<size_t>(c.m * c.n), -7.0f);  // must be overwritten
      args.c = out.data();
      Gemm(args);
      ExpectClose(out, want, mag,
                  "density " + std::to_string(density) + " mode " + ModeName(mode));
      if (mode == SparseMode::kAlways) {
        // Every lower level this CPU has (its own list builders) gives the same bits.
        for (const CpuIsa level : LowerLevels()) {
          ScopedIsa scoped_isa(level);
          Floats lower(out.size(), -7.0f);
          args.c = lower.data();
          Gemm(args);
          EXPECT_EQ(0, std::memcmp(out.data(), lower.data(), out.size() * sizeof(float)))
              << "density " << density << " at " << CpuIsaName(level);
        }
      }
    }
    // always runs the event-driven kernel; so do auto and off below the active level's
    // crossover (clearly below: the drawn density scatters around `density`).
    const SparseCrossover& x = GetSparseCrossover();
    const double crossover =
        c.trans_b ? x.gemm_transposed_b : (c.trans_a ? x.gemm_transposed_a : x.gemm);
    ExpectExactSkipping(outputs, ClearlyBelow(density, crossover),
                        "density " + std::to_string(density));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SparseGemmTest,
    ::testing::Values(GemmCase{false, true, 50, 1024, 313, 0},   // linear forward
                      GemmCase{false, false, 50, 313, 1024, 0},  // linear data grad
                      GemmCase{true, false, 1024, 313, 50, 0},   // linear filter grad
                      GemmCase{false, false, 37, 10, 64, 3},     // columns: tail only
                      GemmCase{true, true, 19, 83, 21, 5},       // blocks + tail
                      GemmCase{false, false, 70, 48, 1, 0},      // k = 1
                      // Several row blocks (256), k-blocks (64) and packed column
                      // blocks of op(B) = Bᵀ, the last ones partial (150 = 64+64+22).
                      GemmCase{false, true, 300, 150, 200, 2},
                      GemmCase{true, false, 270, 90, 130, 1}));

// ---- convolution ----------------------------------------------------------------------

struct ConvCase {
  const char* name;
  Conv2dShape shape;
};

Conv2dShape Shape(int64_t n, int64_t c_in, int64_t hw, int64_t c_out, int64_t k,
                  int64_t stride, int64_t pad, int64_t dil) {
  Conv2dShape s;
  s.n = n;
  s.c_in = c_in;
  s.h = hw;
  s.w = hw + 1;  // not square, to catch h/w mix-ups
  s.c_out = c_out;
  s.kh = k;
  s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.dil_h = s.dil_w = dil;
  return s;
}

class SparseConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(SparseConvTest, AllThreeOpsMatchDirectSumsAndDensePath) {
  const Conv2dShape s = GetParam().shape;
  const int64_t oh = s.out_h(), ow = s.out_w();
  const int64_t x_size = s.n * s.c_in * s.h * s.w, y_size = s.n * s.c_out * oh * ow;
  const int64_t w_size = s.c_out * s.c_in * s.kh * s.kw;
  std::mt19937 rng(11);
  const Floats w = Sparse(w_size, 1.0, /*analog=*/true, rng);
  for (const double density : {0.0, 0.02, 0.25, 1.0}) {
    const Floats x = Sparse(x_size, density, /*analog=*/false, rng);
    const Floats dy = Sparse(y_size, density, /*analog=*/true, rng);
    std::vector<double> y_ref(y_size), y_mag(y_size), dx_ref(x_size), dx_mag(x_size),
        dw_ref(w_size), dw_mag(w_size);
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t co = 0; co < s.c_out; ++co)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox)
            for (int64_t ci = 0; ci < s.c_in; ++ci)
              for (int64_t ki = 0; ki < s.kh; ++ki)
                for (int64_t kj = 0; kj < s.kw; ++kj) {
                  const int64_t iy = oy * s.stride_h - s.pad_h + ki * s.dil_h;
                  const int64_t ix = ox * s.stride_w - s.pad_w + kj * s.dil_w;
                  if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                  const int64_t xi = ((b * s.c_in + ci) * s.h + iy) * s.w + ix;
                  const int64_t wi = ((co * s.c_in + ci) * s.kh + ki) * s.kw + kj;
                  const int64_t yi = ((b * s.c_out + co) * oh + oy) * ow + ox;
                  const double f = static_cast<double>(x[xi]) * w[wi];
                  y_ref[yi] += f;
                  y_mag[yi] += std::fabs(f);
                  const double d = static_cast<double>(dy[yi]) * w[wi];
                  dx_ref[xi] += d;
                  dx_mag[xi] += std::fabs(d);
                  const double g = static_cast<double>(dy[yi]) * x[xi];
                  dw_ref[wi] += g;
                  dw_mag[wi] += std::fabs(g);
                }
    std::map<SparseMode, Floats> ys, dxs, dws;
    for (const SparseMode mode : kAllModes) {
      ScopedMode scoped(mode);
      const std::string what = std::string(GetParam().name) + " density " +
                               std::to_string(density) + " mode " + ModeName(mode);
      Floats& y = ys[mode];
      Floats& dx = dxs[mode];
      Floats& dw = dws[mode];
      y.assign(y_size, -7.0f);
      dx.assign(x_size, -7.0f);
      dw.assign(w_size, -7.0f);
      const auto forward_and_data = [&](Floats& y_out, Floats& dx_out) {
        Conv2dForward({.shape = s, .x = x.data(), .w = w.data(), .y = y_out.data()});
        Conv2dBackwardData(
            {.shape = s, .dy = dy.data(), .w = w.data(), .dx = dx_out.data()});
      };
      forward_and_data(y, dx);
      Conv2dBackwardFilter({.shape = s, .x = x.data(), .dy = dy.data(), .dw = dw.data()});
      ExpectClose(y, y_ref, y_mag, "forward " + what);
      ExpectClose(dx, dx_ref, dx_mag, "backward data " + what);
      ExpectClose(dw, dw_ref, dw_mag, "backward filter " + what);
      if (mode == SparseMode::kAlways) {
        // Every lower level this CPU has (its own list builders) gives the same bits.
        for (const CpuIsa level : LowerLevels()) {
          ScopedIsa scoped_isa(level);
          Floats y2(y_size, -7.0f), dx2(x_size, -7.0f), dw2(w_size, -7.0f);
          forward_and_data(y2, dx2);
          Conv2dBackwardFilter(
              {.shape = s, .x = x.data(), .dy = dy.data(), .dw = dw2.data()});
          const std::string at = what + " at " + CpuIsaName(level);
          EXPECT_EQ(0, std::memcmp(y.data(), y2.data(), y.size() * sizeof(float))) << at;
          EXPECT_EQ(0, std::memcmp(dx.data(), dx2.data(), dx.size() * sizeof(float)))
              << at;
          EXPECT_EQ(0, std::memcmp(dw.data(), dw2.data(), dw.size() * sizeof(float)))
              << at;
        }
      }
    }
    // Below the active level's crossovers (clearly: the drawn density scatters) auto
    // and off take the event-driven kernels, as always does.
    const SparseCrossover& cross = GetSparseCrossover();
    const std::string what =
        std::string(GetParam().name) + " density " + std::to_string(density);
    ExpectExactSkipping(ys, ClearlyBelow(density, cross.conv_forward), "forward " + what);
    ExpectExactSkipping(dxs, ClearlyBelow(density, cross.conv_backward_data),
                        "backward data " + what);
    ExpectExactSkipping(dws, ClearlyBelow(density, cross.conv_backward_filter),
                        "backward filter " + what);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SparseConvTest,
    ::testing::Values(
        ConvCase{"FashionMnistConv2", Shape(3, 32, 14, 64, 5, 1, 2, 1)},  // 4 registers
        ConvCase{"Cout70", Shape(2, 5, 9, 70, 3, 1, 1, 1)},               // 64 + 16 lanes
        ConvCase{"Cout10Cin20", Shape(2, 20, 8, 10, 3, 1, 0, 1)},         // padded lanes
        ConvCase{"Stride2", Shape(2, 6, 11, 33, 3, 2, 1, 1)},
        ConvCase{"Dilation2", Shape(2, 4, 12, 16, 3, 1, 2, 2)},
        ConvCase{"OneByOne", Shape(3, 17, 6, 48, 1, 1, 0, 1)},
        ConvCase{"OneInputChannel", Shape(2, 1, 10, 32, 5, 1, 2, 1)}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- mode selection
// ---------------------------------------------------------------------

TEST(SparseMode, ParsesTheFourNames) {
  SparseMode mode = SparseMode::kOff;
  EXPECT_TRUE(ParseSparseMode("always", &mode));
  EXPECT_EQ(mode, SparseMode::kAlways);
  EXPECT_TRUE(ParseSparseMode("auto", &mode));
  EXPECT_EQ(mode, SparseMode::kAuto);
  EXPECT_TRUE(ParseSparseMode("blas", &mode));
  EXPECT_EQ(mode, SparseMode::kBlas);
  EXPECT_TRUE(ParseSparseMode("off", &mode));
  EXPECT_EQ(mode, SparseMode::kOff);
  EXPECT_FALSE(ParseSparseMode("on", &mode));
  EXPECT_FALSE(ParseSparseMode("BLAS", &mode));
  EXPECT_FALSE(ParseSparseMode("", &mode));
  EXPECT_EQ(mode, SparseMode::kOff);  // unchanged on failure
}

TEST(SparseMode, AutoAndOffTakeTheEventDrivenPathOnlyBelowTheCrossover) {
  ScopedMode scoped(SparseMode::kAuto);
  ResetOperandDensities();
  std::mt19937 rng(3);
  const Conv2dShape s = Shape(2, 8, 10, 16, 3, 1, 1, 1);
  const Floats w = Sparse(s.c_out * s.c_in * 9, 1.0, true, rng);
  Floats y(s.n * s.c_out * s.out_h() * s.out_w());
  const Floats sparse_x = Sparse(s.n * s.c_in * s.h * s.w, 0.1, false, rng);
  const Floats dense_x = Sparse(s.n * s.c_in * s.h * s.w, 1.0, false, rng);
  EXPECT_TRUE(SparseConv2dForward(
      {.shape = s, .x = sparse_x.data(), .w = w.data(), .y = y.data()}));
  EXPECT_FALSE(SparseConv2dForward(
      {.shape = s, .x = dense_x.data(), .w = w.data(), .y = y.data()}));
  // Both calls were logged under the operand's shape, with their exact non-zeros.
  int64_t nonzeros = 0;
  for (const float v : sparse_x) nonzeros += v != 0.0f;
  for (const float v : dense_x) nonzeros += v != 0.0f;
  const std::vector<OperandDensity> log = GetOperandDensities();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].key, "Conv2dForward x[2,8,10,11]");
  EXPECT_EQ(log[0].nonzeros, nonzeros);
  EXPECT_EQ(log[0].total, 2 * static_cast<int64_t>(sparse_x.size()));
  EXPECT_EQ(log[0].sparse_calls, 1);
  EXPECT_EQ(log[0].dense_calls, 1);
  // off decides by the same density (and logs it); its kernel then visits every entry.
  SetSparseMode(SparseMode::kOff);
  EXPECT_TRUE(SparseConv2dForward(
      {.shape = s, .x = sparse_x.data(), .w = w.data(), .y = y.data()}));
  EXPECT_FALSE(SparseConv2dForward(
      {.shape = s, .x = dense_x.data(), .w = w.data(), .y = y.data()}));
  EXPECT_EQ(GetOperandDensities()[0].sparse_calls, 2);
  EXPECT_EQ(GetOperandDensities()[0].dense_calls, 2);
  // blas: the dense path, nothing measured.
  SetSparseMode(SparseMode::kBlas);
  EXPECT_FALSE(SparseConv2dForward(
      {.shape = s, .x = sparse_x.data(), .w = w.data(), .y = y.data()}));
  EXPECT_EQ(GetOperandDensities()[0].sparse_calls, 2);
  EXPECT_EQ(GetOperandDensities()[0].dense_calls, 2);
  // Gemm's sparse path covers alpha = 1, beta = 0 only; anything else is dense.
  SetSparseMode(SparseMode::kAlways);
  Floats a(4, 0.0f), b(4, 1.0f), c(4, 0.0f);
  EXPECT_TRUE(SparseGemm({.m = 2,
                          .n = 2,
                          .k = 2,
                          .alpha = 1.0f,
                          .a = a.data(),
                          .lda = 2,
                          .b = b.data(),
                          .ldb = 2,
                          .beta = 0.0f,
                          .c = c.data(),
                          .ldc = 2}));
  EXPECT_FALSE(SparseGemm({.m = 2,
                           .n = 2,
                           .k = 2,
                           .alpha = 2.0f,
                           .a = a.data(),
                           .lda = 2,
                           .b = b.data(),
                           .ldb = 2,
                           .beta = 0.0f,
                           .c = c.data(),
                           .ldc = 2}));
  EXPECT_FALSE(SparseGemm({.m = 2,
                           .n = 2,
                           .k = 2,
                           .alpha = 1.0f,
                           .a = a.data(),
                           .lda = 2,
                           .b = b.data(),
                           .ldb = 2,
                           .beta = 1.0f,
                           .c = c.data(),
                           .ldc = 2}));
}

// auto counts op(A)'s non-zeros before it builds any list (the lists are built only for
// the event-driven path): the count covers the m × k entries and never the padding of
// a leading dimension, transposed or not, so the choice is the one the lists' own count
// gave before.
TEST(SparseMode, GemmCountsOnlyTheEntriesOfOpABeforeChoosing) {
  ScopedMode scoped(SparseMode::kAuto);
  for (const bool trans_a : {false, true}) {
    ResetOperandDensities();
    const int64_t m = 300, k = 70, pad = 9;
    const int64_t rows = trans_a ? k : m, cols = trans_a ? m : k, lda = cols + pad;
    // Every padding float is 1 (counted by mistake, the density would be far above
    // every level's crossover); inside, entry (r, c) is non-zero when
    // (r + 2c) % 50 == 0: 420 of 21,000 (2 %, below every level's crossover).
    Floats a(static_cast<size_t>(rows * lda), 1.0f);
    int64_t want = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const bool on = (r + 2 * c) % 50 == 0;
        a[r * lda + c] = on ? 0.5f : 0.0f;
        want += on;
      }
    }
    ASSERT_EQ(want, 420);
    const Floats b(static_cast<size_t>(k * 16), 1.0f);
    Floats c(static_cast<size_t>(m * 16), -7.0f);
    EXPECT_TRUE(SparseGemm({.trans_a = trans_a,
                            .m = m,
                            .n = 16,
                            .k = k,
                            .alpha = 1.0f,
                            .a = a.data(),
                            .lda = lda,
                            .b = b.data(),
                            .ldb = 16,
                            .beta = 0.0f,
                            .c = c.data(),
                            .ldc = 16}));
    const std::vector<OperandDensity> log = GetOperandDensities();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].nonzeros, want) << "trans_a " << trans_a;
    EXPECT_EQ(log[0].total, m * k);
    EXPECT_EQ(log[0].sparse_calls, 1);
    // C[i, :] = 0.5 × the non-zeros of op(A)'s row i (B is all ones).
    for (int64_t i = 0; i < m; ++i) {
      int64_t on = 0;
      for (int64_t p = 0; p < k; ++p)
        on += (trans_a ? (p + 2 * i) : (i + 2 * p)) % 50 == 0;
      ASSERT_EQ(c[i * 16], 0.5f * static_cast<float>(on)) << "row " << i;
    }
  }
}

}  // namespace
}  // namespace edbp::kernels::cpu

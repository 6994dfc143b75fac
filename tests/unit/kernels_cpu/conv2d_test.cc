#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <cstring>
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

Conv2dShape MakeShape(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out,
                      int64_t kh, int64_t kw, int64_t stride_h, int64_t stride_w,
                      int64_t pad_h, int64_t pad_w, int64_t dil_h, int64_t dil_w) {
  Conv2dShape s;
  s.n = n;
  s.c_in = c_in;
  s.h = h;
  s.w = w;
  s.c_out = c_out;
  s.kh = kh;
  s.kw = kw;
  s.stride_h = stride_h;
  s.stride_w = stride_w;
  s.pad_h = pad_h;
  s.pad_w = pad_w;
  s.dil_h = dil_h;
  s.dil_w = dil_w;
  return s;
}

// Every (output position, weight tap) pair that reads an input inside the image:
// visit(x index, w index, y index). The direct definition of the convolution.
template <typename Visit>
void ForEachTap(const Conv2dShape& s, Visit visit) {
  const int64_t oh = s.out_h(), ow = s.out_w();
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
                visit(((b * s.c_in + ci) * s.h + iy) * s.w + ix,
                      ((co * s.c_in + ci) * s.kh + ki) * s.kw + kj,
                      ((b * s.c_out + co) * oh + oy) * ow + ox);
              }
}

// A reference result in double with, per entry, the sum of |terms| for a tolerance.
struct Reference {
  std::vector<double> value, magnitude;
  explicit Reference(int64_t count)
      : value(static_cast<size_t>(count)), magnitude(static_cast<size_t>(count)) {}
  void Add(int64_t i, double a, double b) {
    value[i] += a * b;
    magnitude[i] += std::fabs(a * b);
  }
};

void ExpectNear(const std::vector<float>& got, const Reference& want, const char* what) {
  ASSERT_EQ(got.size(), want.value.size());
  int64_t failures = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = 1e-5 * want.magnitude[i] + 1e-7;
    if (std::fabs(got[i] - want.value[i]) > tol && ++failures <= 5) {
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", want " << want.value[i];
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

struct Tensors {
  std::vector<float> x, w, dy;
};

Tensors MakeTensors(const Conv2dShape& s, std::mt19937& rng) {
  return {Random(s.n * s.c_in * s.h * s.w, rng),
          Random(s.c_out * s.c_in * s.kh * s.kw, rng),
          Random(s.n * s.c_out * s.out_h() * s.out_w(), rng)};
}

std::vector<float> RunForward(const Conv2dShape& s, const Tensors& t) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y(t.dy.size(), nan);  // must be overwritten
  Conv2dForwardArgs args;
  args.shape = s;
  args.x = t.x.data();
  args.w = t.w.data();
  args.y = y.data();
  Conv2dForward(args);
  return y;
}

std::vector<float> RunBackwardData(const Conv2dShape& s, const Tensors& t) {
  std::vector<float> dx(t.x.size(), std::numeric_limits<float>::quiet_NaN());
  Conv2dBackwardDataArgs args;
  args.shape = s;
  args.dy = t.dy.data();
  args.w = t.w.data();
  args.dx = dx.data();
  Conv2dBackwardData(args);
  return dx;
}

std::vector<float> RunBackwardFilter(const Conv2dShape& s, const Tensors& t) {
  std::vector<float> dw(t.w.size(), std::numeric_limits<float>::quiet_NaN());
  Conv2dBackwardFilterArgs args;
  args.shape = s;
  args.x = t.x.data();
  args.dy = t.dy.data();
  args.dw = dw.data();
  Conv2dBackwardFilter(args);
  return dw;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b, double* magnitude) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sum += static_cast<double>(a[i]) * b[i];
    *magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
  }
  return sum;
}

std::vector<Conv2dShape> TestShapes() {
  //       n  cin h   w  cout kh kw sh sw ph pw dh dw
  return {
      MakeShape(3, 2, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1),     // 3×3, padding 1
      MakeShape(2, 3, 9, 8, 5, 3, 3, 2, 2, 1, 1, 1, 1),     // stride 2
      MakeShape(4, 2, 10, 11, 3, 3, 5, 1, 2, 2, 1, 1, 1),   // 3×5, mixed stride/pad
      MakeShape(2, 3, 12, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2),   // dilation 2, padding 2
      MakeShape(3, 4, 5, 5, 6, 5, 5, 1, 1, 0, 0, 1, 1),     // kernel = input size
      MakeShape(5, 7, 6, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1),     // 1×1 (no im2col)
      MakeShape(3, 4, 8, 8, 6, 1, 1, 2, 2, 0, 0, 1, 1),     // 1×1 stride 2 (shortcut)
      MakeShape(11, 4, 14, 14, 8, 5, 5, 1, 1, 2, 2, 1, 1),  // Fashion-MNIST-like, n > 8
      MakeShape(1, 2, 4, 4, 3, 3, 3, 3, 3, 3, 3, 1, 1),     // rows entirely in padding
      MakeShape(2, 2, 7, 9, 3, 2, 3, 3, 2, 1, 2, 2, 2),     // everything mixed
  };
}

class Conv2dTest : public testing::Test {
 protected:
  void SetUp() override { openblas_set_num_threads(1); }
};

TEST_F(Conv2dTest, MatchesDirectLoops) {
  std::mt19937 rng(2024);
  for (const Conv2dShape& s : TestShapes()) {
    SCOPED_TRACE(testing::Message()
                 << "n=" << s.n << " c_in=" << s.c_in << " " << s.h << "x" << s.w
                 << " c_out=" << s.c_out << " k=" << s.kh << "x" << s.kw);
    const Tensors t = MakeTensors(s, rng);
    Reference y(static_cast<int64_t>(t.dy.size()));
    Reference dx(static_cast<int64_t>(t.x.size()));
    Reference dw(static_cast<int64_t>(t.w.size()));
    ForEachTap(s, [&](int64_t xi, int64_t wi, int64_t yi) {
      y.Add(yi, t.x[xi], t.w[wi]);
      dx.Add(xi, t.dy[yi], t.w[wi]);
      dw.Add(wi, t.dy[yi], t.x[xi]);
    });
    ExpectNear(RunForward(s, t), y, "y");
    ExpectNear(RunBackwardData(s, t), dx, "dx");
    ExpectNear(RunBackwardFilter(s, t), dw, "dw");
  }
}

TEST_F(Conv2dTest, AdjointIdentity) {
  // <conv(x, w), dy> = <x, backward_data(dy, w)> = <w, backward_filter(x, dy)>.
  std::mt19937 rng(99);
  for (const Conv2dShape& s : TestShapes()) {
    const Tensors t = MakeTensors(s, rng);
    double m1 = 0, m2 = 0, m3 = 0;
    const double via_y = Dot(RunForward(s, t), t.dy, &m1);
    const double via_dx = Dot(t.x, RunBackwardData(s, t), &m2);
    const double via_dw = Dot(t.w, RunBackwardFilter(s, t), &m3);
    const double tol = 1e-5 * std::max({m1, m2, m3});
    EXPECT_NEAR(via_y, via_dx, tol) << "n=" << s.n << " " << s.h << "x" << s.w;
    EXPECT_NEAR(via_y, via_dw, tol) << "n=" << s.n << " " << s.h << "x" << s.w;
  }
}

TEST_F(Conv2dTest, HandWorkedSingleChannel) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,-1]], padding 0, stride 1:
  // y[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere.
  const Conv2dShape s = MakeShape(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 1, 1);
  Tensors t{{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 0, 0, -1}, {1, 2, 3, 4}};
  EXPECT_EQ(RunForward(s, t), (std::vector<float>{-4, -4, -4, -4}));
  // dx = dy scattered through w: dx[i][j] += dy[i][j], dx[i+1][j+1] -= dy[i][j].
  EXPECT_EQ(RunBackwardData(s, t), (std::vector<float>{1, 2, 0, 3, 3, -2, 0, -3, -4}));
  // dw[a][b] = Σ dy[i][j]·x[i+a][j+b]: 1·1+2·2+3·4+4·5 = 37, 47, 67, 77.
  EXPECT_EQ(RunBackwardFilter(s, t), (std::vector<float>{37, 47, 67, 77}));
}

TEST_F(Conv2dTest, BackwardFilterIsBitwiseDeterministic) {
  std::mt19937 rng(5);
  const Conv2dShape s = MakeShape(37, 6, 14, 14, 10, 5, 5, 1, 1, 2, 2, 1, 1);
  const Tensors t = MakeTensors(s, rng);
  const std::vector<float> first = RunBackwardFilter(s, t);
  const std::vector<float> second = RunBackwardFilter(s, t);
  ASSERT_EQ(first.size(), second.size());
  EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(float)), 0);
}

TEST_F(Conv2dTest, EmptyBatchZeroesFilterGradient) {
  const Conv2dShape s = MakeShape(0, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1);
  const Tensors t;
  std::vector<float> dw(3 * 2 * 3 * 3, 7.0f);
  Conv2dBackwardFilterArgs args;
  args.shape = s;
  args.x = t.x.data();
  args.dy = t.dy.data();
  args.dw = dw.data();
  Conv2dBackwardFilter(args);
  EXPECT_EQ(dw, std::vector<float>(dw.size(), 0.0f));
}

}  // namespace
}  // namespace edbp::kernels::cpu

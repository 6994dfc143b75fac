// Residual block (ALGORITHM.md §5): the proportional split of the sum's gradient by
// hand, and whole blocks (identity and 1x1 stride-2 shortcut) against direct double
// loops (direct_loops.h).
#include "core/layers/residual.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/neuron.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/unit/core/direct_loops.h"
#include "tests/unit/core/layer_test_util.h"

namespace edbp {
namespace {

using testing::Cpu;
using testing::Host;
using testing::MakeTensor;

using testing::kSteps;
using testing::MakeSetup;
using testing::Uniform;

TEST(SplitSumGradient, ProportionalByHand) {
  // a = 1, b = 2, G = 3 → 3·1/3 = 1, 3·2/3 = 2; a = b = 0 → s := 1 → 0, 0;
  // a = 1, b = 0, G = -2 → all to a.
  const Tensor a = MakeTensor({3}, {1, 0, 1});
  const Tensor b = MakeTensor({3}, {2, 0, 0});
  const Tensor g = MakeTensor({3}, {3, 5, -2});
  Tensor da = MakeTensor({3}, {9, 9, 9}), db = MakeTensor({3}, {9, 9, 9});
  ASSERT_TRUE(SplitSumGradient(g, a, b, da, db).ok());
  EXPECT_EQ(Host(da), (std::vector<float>{1, 0, -2}));
  EXPECT_EQ(Host(db), (std::vector<float>{2, 0, 0}));
}

void ExpectClose(const std::vector<float>& got, const std::vector<double>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  ASSERT_GT(scale, 0) << what << " is all zero: the test exercises nothing";
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-4 * scale) << what << "[" << i << "]";
  }
}

// One conv + neuron in double (§4, §5): n = T·B samples, square kernel k.
struct DirectConv {
  int n, c_in, h, w, c_out, k, stride, pad;
  std::vector<double> wt, g, b;  // parameters
  std::vector<double> x, w_hat, mean, var, du, du_t, o;
  std::vector<double> grad_w, grad_g, grad_b;

  int oh() const { return (h + 2 * pad - k) / stride + 1; }
  int ow() const { return (w + 2 * pad - k) / stride + 1; }
  template <typename Fn>
  void ForEachTap(Fn&& fn) const {
    for (int s = 0; s < n; ++s)
      for (int co = 0; co < c_out; ++co)
        for (int oy = 0; oy < oh(); ++oy)
          for (int ox = 0; ox < ow(); ++ox)
            for (int ci = 0; ci < c_in; ++ci)
              for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx) {
                  const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  fn(((s * c_out + co) * oh() + oy) * ow() + ox,
                     ((s * c_in + ci) * h + iy) * w + ix,
                     ((co * c_in + ci) * k + ky) * k + kx);
                }
  }
  const std::vector<double>& Forward(const std::vector<double>& input) {
    x = input;
    direct::WeightStd(c_out, c_in * k * k, wt, g, b, w_hat, mean, var);
    std::vector<double> I(n * c_out * oh() * ow(), 0);
    ForEachTap([&](int yi, int xi, int wi) { I[yi] += x[xi] * w_hat[wi]; });
    direct::NeuronForward({}, kSteps, static_cast<int>(I.size()) / kSteps, I, du, du_t,
                          o);
    return o;
  }
  std::vector<double> Backward(const std::vector<double>& dl_do) {
    std::vector<double> e(o.size()), gw, gi;
    for (size_t i = 0; i < e.size(); ++i) e[i] = dl_do[i] * o[i];
    direct::NeuronBackward({}, kSteps, static_cast<int>(o.size()) / kSteps, e, o, du,
                           du_t, gw, gi);
    std::vector<double> gwh(wt.size(), 0), dx(x.size(), 0);
    ForEachTap([&](int yi, int xi, int wi) {
      gwh[wi] += gw[yi] * x[xi];
      dx[xi] += gi[yi] * w_hat[wi];
    });
    direct::WeightStdBackward(c_out, c_in * k * k, gwh, wt, g, w_hat, mean, var, grad_w,
                              grad_g, grad_b);
    for (size_t i = 0; i < x.size(); ++i) dx[i] = 0.85 * dx[i] * x[i];  // §5
    return dx;
  }
};

// Random parameters into both the direct conv and the layer's conv.
void SetParams(DirectConv& d, ConvLayer& layer, uint64_t seed) {
  const auto w = Uniform(d.c_out * d.c_in * d.k * d.k, -1, 1, seed);
  std::vector<float> g(d.c_out), b(d.c_out);
  for (int c = 0; c < d.c_out; ++c) {
    g[c] = 2.5f + 0.5f * c;
    b[c] = 0.05f * c;
  }
  d.wt.assign(w.begin(), w.end());
  d.g.assign(g.begin(), g.end());
  d.b.assign(b.begin(), b.end());
  kernels::Backend* cpu = Cpu();
  ASSERT_TRUE(cpu->CopyHostToDevice(layer.weight().f32(), w.data(), w.size() * 4).ok());
  ASSERT_TRUE(
      cpu->CopyHostToDevice(layer.norm_weight().f32(), g.data(), g.size() * 4).ok());
  ASSERT_TRUE(
      cpu->CopyHostToDevice(layer.norm_bias().f32(), b.data(), b.size() * 4).ok());
}

void CheckConvGrads(const DirectConv& d, ConvLayer& layer, const std::string& what) {
  ExpectClose(Host(layer.grad_weight()), d.grad_w, what + ".grad_W");
  ExpectClose(Host(layer.grad_norm_weight()), d.grad_g, what + ".grad_g");
  ExpectClose(Host(layer.grad_norm_bias()), d.grad_b, what + ".grad_b");
}

struct BlockCase {
  int c_in, c_out, hw, stride;
};

class ResidualBlockTest : public ::testing::TestWithParam<BlockCase> {};

TEST_P(ResidualBlockTest, MatchesDirectLoops) {
  const BlockCase p = GetParam();
  const int B = 2, n = kSteps * B;
  config::LayerConfig lc;
  lc.name = "res";
  lc.type = config::LayerType::kResidual;
  lc.in_channels = p.c_in;
  lc.out_channels = p.c_out;
  lc.stride = {p.stride, p.stride};
  lc.threshold = 1.0f;
  const NeuronSetup setup = MakeSetup();
  auto block = ResidualLayer::Create(lc, &setup, Cpu());
  ASSERT_TRUE(block.ok()) << block.status();
  ResidualLayer& r = **block;
  const bool has_shortcut = p.stride != 1 || p.c_in != p.c_out;
  ASSERT_EQ(r.shortcut() != nullptr, has_shortcut);

  DirectConv c1{n,  p.c_in, p.hw, p.hw, p.c_out, 3,  p.stride, 1,  {}, {}, {},
                {}, {},     {},   {},   {},      {}, {},       {}, {}, {}};
  const int ohw = c1.oh();
  DirectConv c2{n,  p.c_out, ohw, ohw, p.c_out, 3,  1,  1,  {}, {}, {},
                {}, {},      {},  {},  {},      {}, {}, {}, {}, {}};
  DirectConv sc{n,  p.c_in, p.hw, p.hw, p.c_out, 1,  p.stride, 0,  {}, {}, {},
                {}, {},     {},   {},   {},      {}, {},       {}, {}, {}};
  SetParams(c1, r.conv1(), 21);
  SetParams(c2, r.conv2(), 22);
  if (has_shortcut) SetParams(sc, *r.shortcut(), 23);

  const auto xv = Uniform(n * p.c_in * p.hw * p.hw, 0, 1, 24, 0.3f);
  const std::vector<double> xd(xv.begin(), xv.end());
  const std::vector<double> a = c2.Forward(c1.Forward(xd));
  const std::vector<double> bsum = has_shortcut ? sc.Forward(xd) : xd;
  std::vector<double> y(a.size());
  for (size_t i = 0; i < y.size(); ++i) y[i] = a[i] + bsum[i];

  auto fwd = r.Forward(MakeTensor({kSteps, B, p.c_in, p.hw, p.hw}, xv), {});
  ASSERT_TRUE(fwd.ok()) << fwd.status();
  EXPECT_EQ(fwd->output.shape(), (Shape{kSteps, B, p.c_out, ohw, ohw}));
  ExpectClose(Host(fwd->output), y, "y");
  int main_spikes = 0;
  for (double v : a) main_spikes += v != 0;
  ASSERT_GT(main_spikes, 0) << "conv2 never fires: the test exercises nothing";

  // §5 backward: split G in proportion, back through each branch, add at x.
  const auto dl_dy = Uniform(y.size(), -1, 1, 25);
  std::vector<double> da(y.size()), db(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    const double s = y[i] == 0 ? 1 : y[i];
    da[i] = dl_dy[i] * a[i] / s;
    db[i] = dl_dy[i] * bsum[i] / s;
  }
  std::vector<double> dx = c1.Backward(c2.Backward(da));
  const std::vector<double> dx_skip = has_shortcut ? sc.Backward(db) : db;
  for (size_t i = 0; i < dx.size(); ++i) dx[i] += dx_skip[i];

  auto grad_x =
      r.Backward(MakeTensor(fwd->output.shape(), dl_dy), std::move(fwd->context),
                 /*need_input_grad=*/true);
  ASSERT_TRUE(grad_x.ok()) << grad_x.status();
  CheckConvGrads(c1, r.conv1(), "conv1");
  CheckConvGrads(c2, r.conv2(), "conv2");
  if (has_shortcut) CheckConvGrads(sc, *r.shortcut(), "shortcut");
  ExpectClose(Host(*grad_x), dx, "grad_x");
}

INSTANTIATE_TEST_SUITE_P(Shortcuts, ResidualBlockTest,
                         ::testing::Values(BlockCase{2, 2, 5, 1},    // identity
                                           BlockCase{2, 3, 6, 2}));  // 1x1 stride 2

}  // namespace
}  // namespace edbp

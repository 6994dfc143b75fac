// Linear and conv layers end to end (ALGORITHM.md §4, §5) on tiny shapes: spikes,
// dL/dW, dL/dg, dL/db and dL/dx against direct double loops (direct_loops.h).
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/layers/conv.h"
#include "core/layers/linear.h"
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

std::vector<double> D(const std::vector<float>& v) { return {v.begin(), v.end()}; }

void ExpectClose(const std::vector<float>& got, const std::vector<double>& want,
                 const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  ASSERT_GT(scale, 0) << what << " is all zero: the test exercises nothing";
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-4 * scale) << what << "[" << i << "]";
  }
}

struct Expected {
  std::vector<double> o, grad_w, grad_g, grad_b, grad_x;
};

// Everything after the synaptic current is shared by linear and conv: the test
// supplies the current (from Ŵ) and the two adjoint products.
template <typename CurrentFn, typename FilterFn, typename DataFn>
Expected DirectLayer(int c_out, int m, const std::vector<double>& w,
                     const std::vector<double>& g, const std::vector<double>& b,
                     const std::vector<double>& x, const std::vector<double>& dl_do,
                     CurrentFn current, FilterFn filter, DataFn data) {
  Expected ex;
  std::vector<double> w_hat, mean, var;
  direct::WeightStd(c_out, m, w, g, b, w_hat, mean, var);
  const std::vector<double> I = current(w_hat);
  const int n = static_cast<int>(I.size()) / kSteps;
  std::vector<double> du, du_t, grad_w_, grad_in_;
  direct::NeuronForward({}, kSteps, n, I, du, du_t, ex.o);
  std::vector<double> e(I.size());
  for (size_t i = 0; i < e.size(); ++i) e[i] = dl_do[i] * ex.o[i];
  direct::NeuronBackward({}, kSteps, n, e, ex.o, du, du_t, grad_w_, grad_in_);
  const std::vector<double> grad_w_hat = filter(grad_w_);
  direct::WeightStdBackward(c_out, m, grad_w_hat, w, g, w_hat, mean, var, ex.grad_w,
                            ex.grad_g, ex.grad_b);
  ex.grad_x = data(grad_in_, w_hat);
  for (size_t i = 0; i < x.size(); ++i) ex.grad_x[i] = 0.85 * ex.grad_x[i] * x[i];  // §5
  return ex;
}

void CheckLayer(SpikingLayer& layer, const std::vector<float>& w,
                const std::vector<float>& g, const std::vector<float>& b, const Tensor& x,
                const std::vector<float>& dl_do, const Expected& ex) {
  kernels::Backend* cpu = Cpu();
  ASSERT_TRUE(cpu->CopyHostToDevice(layer.weight().f32(), w.data(), w.size() * 4).ok());
  ASSERT_TRUE(
      cpu->CopyHostToDevice(layer.norm_weight().f32(), g.data(), g.size() * 4).ok());
  ASSERT_TRUE(
      cpu->CopyHostToDevice(layer.norm_bias().f32(), b.data(), b.size() * 4).ok());
  auto fwd = layer.Forward(x, {});
  ASSERT_TRUE(fwd.ok()) << fwd.status();
  const std::vector<float> o = Host(fwd->output);
  ASSERT_EQ(o.size(), ex.o.size());
  int spikes = 0;
  for (size_t i = 0; i < o.size(); ++i) {
    EXPECT_EQ(o[i], ex.o[i]) << "spike " << i;
    spikes += o[i] != 0;
  }
  ASSERT_GT(spikes, 0);
  ASSERT_LT(spikes, static_cast<int>(o.size()));
  auto grad_x = layer.Backward(MakeTensor(fwd->output.shape(), dl_do),
                               std::move(fwd->context), /*need_input_grad=*/true);
  ASSERT_TRUE(grad_x.ok()) << grad_x.status();
  ExpectClose(Host(layer.grad_weight()), ex.grad_w, "grad_W");
  ExpectClose(Host(layer.grad_norm_weight()), ex.grad_g, "grad_g");
  ExpectClose(Host(layer.grad_norm_bias()), ex.grad_b, "grad_b");
  ExpectClose(Host(*grad_x), ex.grad_x, "grad_x");
}

TEST(LinearLayer, MatchesDirectLoops) {
  const int B = 3, in = 6, out = 4;
  config::LayerConfig lc;
  lc.name = "fc";
  lc.type = config::LayerType::kLinear;
  lc.n_inputs = in;
  lc.n_outputs = out;
  lc.threshold = 1.0f;
  const NeuronSetup setup = MakeSetup();
  auto layer = LinearLayer::Create(lc, &setup, Cpu());
  ASSERT_TRUE(layer.ok()) << layer.status();
  const auto w = Uniform(out * in, -1, 1, 1);
  const std::vector<float> g = {2.5f, 3.0f, 2.0f, 3.5f}, b = {0.1f, -0.2f, 0.0f, 0.3f};
  const auto xv = Uniform(kSteps * B * in, 0, 1, 2, 0.3f);
  const auto dl_do = Uniform(kSteps * B * out, -1, 1, 3);
  const auto xd = D(xv);
  const int rows = kSteps * B;
  auto current = [&](const std::vector<double>& w_hat) {
    std::vector<double> I(rows * out, 0);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < out; ++c)
        for (int j = 0; j < in; ++j) I[r * out + c] += xd[r * in + j] * w_hat[c * in + j];
    return I;
  };
  auto filter = [&](const std::vector<double>& gw) {
    std::vector<double> G(out * in, 0);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < out; ++c)
        for (int j = 0; j < in; ++j) G[c * in + j] += gw[r * out + c] * xd[r * in + j];
    return G;
  };
  auto data = [&](const std::vector<double>& gi, const std::vector<double>& w_hat) {
    std::vector<double> dx(rows * in, 0);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < out; ++c)
        for (int j = 0; j < in; ++j)
          dx[r * in + j] += gi[r * out + c] * w_hat[c * in + j];
    return dx;
  };
  const Expected ex =
      DirectLayer(out, in, D(w), D(g), D(b), xd, D(dl_do), current, filter, data);
  CheckLayer(**layer, w, g, b, MakeTensor({kSteps, B, in}, xv), dl_do, ex);
}

struct ConvCase {
  int c_in, h, w, c_out, kh, kw, stride, pad, dil;
};

class ConvLayerTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvLayerTest, MatchesDirectLoops) {
  const ConvCase p = GetParam();
  const int B = 2;
  config::LayerConfig lc;
  lc.name = "conv";
  lc.type = config::LayerType::kConv;
  lc.in_channels = p.c_in;
  lc.out_channels = p.c_out;
  lc.kernel_size = {p.kh, p.kw};
  lc.stride = {p.stride, p.stride};
  lc.padding = {p.pad, p.pad};
  lc.dilation = {p.dil, p.dil};
  lc.threshold = 1.0f;
  const NeuronSetup setup = MakeSetup();
  auto layer = ConvLayer::Create(lc, &setup, Cpu());
  ASSERT_TRUE(layer.ok()) << layer.status();
  const int m = p.c_in * p.kh * p.kw;
  const int oh = (p.h + 2 * p.pad - p.dil * (p.kh - 1) - 1) / p.stride + 1;
  const int ow = (p.w + 2 * p.pad - p.dil * (p.kw - 1) - 1) / p.stride + 1;
  const auto w = Uniform(p.c_out * m, -1, 1, 11);
  std::vector<float> g(p.c_out), b(p.c_out);
  for (int c = 0; c < p.c_out; ++c) {
    g[c] = 2.0f + 0.5f * c;
    b[c] = 0.05f * c;
  }
  const int n = kSteps * B;
  const auto xv = Uniform(n * p.c_in * p.h * p.w, 0, 1, 12, 0.4f);
  const auto dl_do = Uniform(n * p.c_out * oh * ow, -1, 1, 13);
  const auto xd = D(xv);
  // Visits every (sample, co, oy, ox, ci, ky, kx) with a valid input position.
  auto for_each_tap = [&](auto&& fn) {
    for (int s = 0; s < n; ++s)
      for (int co = 0; co < p.c_out; ++co)
        for (int oy = 0; oy < oh; ++oy)
          for (int ox = 0; ox < ow; ++ox)
            for (int ci = 0; ci < p.c_in; ++ci)
              for (int ky = 0; ky < p.kh; ++ky)
                for (int kx = 0; kx < p.kw; ++kx) {
                  const int iy = oy * p.stride - p.pad + ky * p.dil;
                  const int ix = ox * p.stride - p.pad + kx * p.dil;
                  if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
                  fn(((s * p.c_out + co) * oh + oy) * ow + ox,
                     ((s * p.c_in + ci) * p.h + iy) * p.w + ix,
                     ((co * p.c_in + ci) * p.kh + ky) * p.kw + kx);
                }
  };
  auto current = [&](const std::vector<double>& w_hat) {
    std::vector<double> I(n * p.c_out * oh * ow, 0);
    for_each_tap([&](int yi, int xi, int wi) { I[yi] += xd[xi] * w_hat[wi]; });
    return I;
  };
  auto filter = [&](const std::vector<double>& gw) {
    std::vector<double> G(p.c_out * m, 0);
    for_each_tap([&](int yi, int xi, int wi) { G[wi] += gw[yi] * xd[xi]; });
    return G;
  };
  auto data = [&](const std::vector<double>& gi, const std::vector<double>& w_hat) {
    std::vector<double> dx(xd.size(), 0);
    for_each_tap([&](int yi, int xi, int wi) { dx[xi] += gi[yi] * w_hat[wi]; });
    return dx;
  };
  const Expected ex =
      DirectLayer(p.c_out, m, D(w), D(g), D(b), xd, D(dl_do), current, filter, data);
  CheckLayer(**layer, w, g, b, MakeTensor({kSteps, B, p.c_in, p.h, p.w}, xv), dl_do, ex);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvLayerTest,
                         ::testing::Values(ConvCase{2, 5, 5, 3, 3, 3, 1, 1, 1},
                                           ConvCase{1, 6, 7, 2, 3, 2, 2, 0, 1},
                                           ConvCase{2, 7, 7, 2, 3, 3, 1, 2, 2}));

}  // namespace
}  // namespace edbp

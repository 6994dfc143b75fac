// The first conv layer's shortcut for a static input (core/layers/conv.h): the
// forward must equal the full [T·B] computation bit for bit, the filter gradient to
// float rounding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/layers/conv.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "tests/unit/core/layer_test_util.h"

namespace edbp {
namespace {

using testing::Cpu;
using testing::Host;
using testing::kSteps;
using testing::MakeTensor;
using testing::Uniform;

constexpr int kBatch = 3, kCin = 2, kCout = 20, kH = 9, kW = 8;

std::vector<float> Repeat(const std::vector<float>& step) {
  std::vector<float> x;
  for (int t = 0; t < kSteps; ++t) x.insert(x.end(), step.begin(), step.end());
  return x;
}

struct Result {
  std::vector<float> spikes, grad_weight, grad_g, grad_b;
};

Result ForwardBackward(const std::vector<float>& x) {
  config::LayerConfig lc;
  lc.name = "conv_1";
  lc.type = config::LayerType::kConv;
  lc.in_channels = kCin;
  lc.out_channels = kCout;
  lc.kernel_size = {3, 3};
  lc.stride = {1, 1};
  lc.padding = {1, 1};
  lc.dilation = {1, 1};
  lc.threshold = 0.3f;
  const NeuronSetup setup = testing::MakeSetup();
  auto layer = ConvLayer::Create(lc, &setup, Cpu());
  EXPECT_TRUE(layer.ok()) << layer.status();
  const std::vector<float> w = Uniform(kCout * kCin * 9, -1, 1, 21);
  EXPECT_TRUE(
      Cpu()
          ->CopyHostToDevice((*layer)->weight().f32(), w.data(), w.size() * sizeof(float))
          .ok());
  const Tensor input = MakeTensor({kSteps, kBatch, kCin, kH, kW}, x);
  ForwardOptions options;
  options.training = true;
  auto f = (*layer)->Forward(input, options);
  EXPECT_TRUE(f.ok()) << f.status();
  const std::vector<float> dl_do =
      Uniform(static_cast<size_t>(f->output.numel()), -1, 1, 22);
  auto g = (*layer)->Backward(MakeTensor(f->output.shape(), dl_do), std::move(f->context),
                              /*need_input_grad=*/false);
  EXPECT_TRUE(g.ok()) << g.status();
  return {Host(f->output), Host((*layer)->grad_weight()),
          Host((*layer)->grad_norm_weight()), Host((*layer)->grad_norm_bias())};
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const char* what) {
  ASSERT_EQ(got.size(), want.size());
  float max_abs = 0;
  for (const float v : want) max_abs = std::max(max_abs, std::fabs(v));
  ASSERT_GT(max_abs, 0) << what
                        << ": the gradient must not vanish for the test to mean anything";
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * max_abs) << what << " [" << i << "]";
  }
}

TEST(ConvRepeat, DetectsAStaticInputOnly) {
  std::vector<float> step = Uniform(kBatch * kCin * kH * kW, 0, 1, 5, 0.3f);
  std::vector<float> x = Repeat(step);
  EXPECT_TRUE(ConvLayer::RepeatsOverTime(MakeTensor({kSteps, kBatch, kCin, kH, kW}, x)));
  x[x.size() - 1] += 1.0f;  // the last step differs in its last value
  EXPECT_FALSE(ConvLayer::RepeatsOverTime(MakeTensor({kSteps, kBatch, kCin, kH, kW}, x)));
  EXPECT_FALSE(ConvLayer::RepeatsOverTime(MakeTensor({1, kBatch, kCin, kH, kW}, step)));
}

TEST(ConvRepeat, ShortcutMatchesTheFullComputation) {
  const std::vector<float> step = Uniform(kBatch * kCin * kH * kW, 0, 1, 5, 0.3f);
  const std::vector<float> x = Repeat(step);
  // The same values, but one zero of step 1 is -0: the bytes differ, so the layer
  // takes the full [T·B] path, while every product and sum is the same number.
  std::vector<float> x_full = x;
  size_t zero = step.size();
  while (x_full[zero] != 0.0f) ++zero;
  x_full[zero] = -0.0f;
  ASSERT_TRUE(ConvLayer::RepeatsOverTime(MakeTensor({kSteps, kBatch, kCin, kH, kW}, x)));
  ASSERT_FALSE(
      ConvLayer::RepeatsOverTime(MakeTensor({kSteps, kBatch, kCin, kH, kW}, x_full)));

  const Result fast = ForwardBackward(x);
  const Result full = ForwardBackward(x_full);
  EXPECT_EQ(fast.spikes, full.spikes);
  float spikes = 0;
  for (const float v : fast.spikes) spikes += v;
  EXPECT_GT(spikes, 0) << "the layer must fire for the comparison to mean anything";
  ExpectClose(fast.grad_weight, full.grad_weight, "grad weight");
  ExpectClose(fast.grad_g, full.grad_g, "grad g");
  ExpectClose(fast.grad_b, full.grad_b, "grad b");
}

}  // namespace
}  // namespace edbp

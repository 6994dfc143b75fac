// The first conv layer's shortcut for an input its caller says repeats
// (ForwardOptions::input_repeats, core/layers/conv.h): the forward must equal the full
// [T·B] computation bit for bit, the filter gradient to float rounding; the path is
// chosen by the flag alone, never by looking at the data (so every backend takes it).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/layers/conv.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/cpu/sparse.h"
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

Result ForwardBackward(const std::vector<float>& x, bool input_repeats) {
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
  options.input_repeats = input_repeats;
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

// The shapes the layer's convolutions ran on, from the CPU kernels' operand log.
std::vector<std::string> ConvForwardShapes() {
  std::vector<std::string> keys;
  for (const kernels::cpu::OperandDensity& d : kernels::cpu::GetOperandDensities()) {
    if (d.key.rfind("Conv2dForward", 0) == 0) keys.push_back(d.key);
  }
  return keys;
}

TEST(ConvRepeat, TheFlagAloneChoosesThePath) {
  const std::vector<float> x = Repeat(Uniform(kBatch * kCin * kH * kW, 0, 1, 5, 0.3f));
  const std::string one_step = "Conv2dForward x[3,2,9,8]";     // B samples
  const std::string every_step = "Conv2dForward x[15,2,9,8]";  // T·B samples
  kernels::cpu::ResetOperandDensities();
  ForwardBackward(x, /*input_repeats=*/true);
  EXPECT_EQ(ConvForwardShapes(), std::vector<std::string>{one_step});
  // The same repeated data, not flagged: the full computation (the data is not
  // inspected; on a GPU it could not be cheaply).
  kernels::cpu::ResetOperandDensities();
  ForwardBackward(x, /*input_repeats=*/false);
  EXPECT_EQ(ConvForwardShapes(), std::vector<std::string>{every_step});
}

TEST(ConvRepeat, ShortcutMatchesTheFullComputation) {
  const std::vector<float> x = Repeat(Uniform(kBatch * kCin * kH * kW, 0, 1, 5, 0.3f));
  const Result fast = ForwardBackward(x, /*input_repeats=*/true);
  const Result full = ForwardBackward(x, /*input_repeats=*/false);
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

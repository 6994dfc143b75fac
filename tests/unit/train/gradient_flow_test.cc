// The gradient-flow collector (ALGORITHM.md §14) on one forward and backward in
// process: a ResNet (a block's convolutions each an entry; only conv2 → conv1 pairs
// inside blocks) and a conv → adjusted pooling → linear → linear network (pairs through
// the pooling and direct, the invariant to 1e-5), with the output layer's numbers
// recomputed from the loss gradient and the spikes, and the observers given back.
#include "core/train/gradient_flow.h"

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/train/layer_stats.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace edbp::train {
namespace {

using testing::Cpu;
using testing::Host;

constexpr char kHeader[] = R"(Network:
  epochs: 1
  batch_size: 2
  n_steps: 4
  dataset: "Synthetic"
  input_shape: [2, 8, 8]
  optimizer: "AdamW"
  lr: 0.001
  loss: "count"
  pooling_type: "adjusted_avg"
  gradient_type: "exponential"
  n_class: 3
  desired_count: 3
  undesired_count: 1
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5
Layers:
  conv_1:
    type: "conv"
    in_channels: 2
    out_channels: 4
    kernel_size: 3
    padding: 1
    threshold: 1
)";

constexpr char kResNetLayers[] = R"(  block_1:
    type: "residual"
    in_channels: 4
    out_channels: 8
    stride: 2
  block_2:
    type: "residual"
    in_channels: 8
    out_channels: 8
  output:
    type: "linear"
    n_inputs: 128
    n_outputs: 3
    threshold: 1
)";

constexpr char kPlainLayers[] = R"(  pooling_1:
    type: "pooling"
    kernel_size: 2
  FC_1:
    type: "linear"
    n_inputs: 64
    n_outputs: 20
    threshold: 1
  output:
    type: "linear"
    n_inputs: 20
    n_outputs: 3
    threshold: 1
)";

constexpr int kT = 4, kB = 2, kClasses = 3;

// One batch through a network of `layers`, with the collector attached after a
// LayerStatsCollector (whose observers it must give back).
struct BatchRun {
  std::unique_ptr<Network> net;
  GradientFlowReport report;
  std::vector<float> raw, output, grad;  // the output layer's [T, B, 3]
};

void RunBatch(const std::string& layers, BatchRun& run) {
  auto config = config::ParseConfig(std::string(kHeader) + layers);
  ASSERT_TRUE(config.ok()) << config.status();
  auto net = Network::Create(*config, Cpu(), 3);
  ASSERT_TRUE(net.ok()) << net.status();
  run.net = *std::move(net);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 2.0f);
  std::vector<float> values(kT * kB * 2 * 8 * 8);
  for (float& v : values) v = u(rng);
  auto x = Tensor::FromHost(Cpu(), {kT, kB, 2, 8, 8}, values);
  ASSERT_TRUE(x.ok());
  const std::vector<int32_t> labels = {0, 2};
  auto y = Tensor::FromHostI32(Cpu(), {kB}, labels);
  ASSERT_TRUE(y.ok());
  ASSERT_TRUE(run.net->InitializeByBisection(*x).ok());  // so that every layer spikes

  auto stats = LayerStatsCollector::Attach(*run.net);
  ASSERT_TRUE(stats.ok()) << stats.status();
  auto& first = static_cast<SpikingLayer&>(*run.net->layers()[0]);
  ASSERT_EQ(first.observer(), stats->get());
  {
    auto flow = GradientFlowCollector::Attach(*run.net);
    ASSERT_TRUE(flow.ok()) << flow.status();
    EXPECT_EQ(first.observer(), flow->get());
    auto fwd = run.net->Forward(*x, &*y, /*training=*/false, /*keep_context=*/true);
    ASSERT_TRUE(fwd.ok()) << fwd.status();
    run.raw = Host(fwd->raw_output);
    run.output = Host(fwd->output);
    auto loss = Loss::Create(config->network);
    ASSERT_TRUE(loss.ok());
    Tensor grad;
    ASSERT_TRUE((*loss)->Compute(fwd->output, *y, &grad).ok());
    run.grad = Host(grad);
    ASSERT_TRUE(run.net->Backward(grad, *fwd).ok());
    auto report = (*flow)->Report();
    ASSERT_TRUE(report.ok()) << report.status();
    run.report = *std::move(report);
  }
  EXPECT_EQ(first.observer(), stats->get()) << "the previous observer is given back";
}

double L2(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

// The output layer against its spikes and the loss gradient: spikes[t] = Σ raw[t],
// grad_in[t] = Σ dL/do[t] ⊙ o[t], silent = classes that never fired.
void CheckOutputLayer(const BatchRun& run) {
  const GradientFlowLayer& out = run.report.layers.back();
  EXPECT_EQ(out.name, "output");
  EXPECT_EQ(out.type, "linear");
  EXPECT_EQ(out.neurons, kClasses);
  ASSERT_EQ(out.spikes.size(), static_cast<size_t>(kT));
  ASSERT_EQ(out.grad_in.size(), static_cast<size_t>(kT));
  std::vector<bool> fired(kClasses, false);
  int64_t total = 0;
  for (int t = 0; t < kT; ++t) {
    int64_t spikes = 0;
    double in = 0;
    for (int i = 0; i < kB * kClasses; ++i) {
      const int at = t * kB * kClasses + i;
      spikes += run.raw[at] != 0;
      if (run.raw[at] != 0) fired[i % kClasses] = true;
      in += static_cast<double>(run.grad[at]) * run.output[at];
    }
    total += spikes;
    EXPECT_EQ(out.spikes[t], spikes) << "t=" << t;
    EXPECT_NEAR(out.grad_in[t], in, 1e-6 * (1 + std::fabs(in))) << "t=" << t;
  }
  EXPECT_GT(total, 0);
  EXPECT_EQ(out.silent_neurons, std::count(fired.begin(), fired.end(), false));
  EXPECT_DOUBLE_EQ(out.silent_fraction, out.silent_neurons / 3.0);
}

TEST(GradientFlowCollector, PlainNetworkKeepsTheInvariant) {
  BatchRun run;
  RunBatch(kPlainLayers, run);
  if (::testing::Test::HasFatalFailure()) return;
  const GradientFlowReport& r = run.report;
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_EQ(r.layers[0].name, "conv_1");
  EXPECT_EQ(r.layers[0].neurons, 4 * 8 * 8);
  EXPECT_TRUE(r.layers[0].grad_out.empty()) << "the first layer passes nothing down";
  EXPECT_EQ(r.layers[1].index, 2);
  for (const GradientFlowLayer& l : r.layers) {
    EXPECT_EQ(l.spikes.size(), static_cast<size_t>(kT)) << l.name;
    EXPECT_GE(l.silent_neurons, 0) << l.name;
    EXPECT_LE(l.silent_neurons, l.neurons) << l.name;
    // ‖dL/dW‖ and ‖W‖ are the layer's own.
    auto& layer = static_cast<SpikingLayer&>(*run.net->layers()[l.index]);
    EXPECT_NEAR(l.grad_norm, L2(Host(layer.grad_weight())), 1e-9 * (1 + l.grad_norm))
        << l.name;
    EXPECT_NEAR(l.weight_norm, L2(Host(layer.weight())), 1e-9 * l.weight_norm) << l.name;
  }
  ASSERT_EQ(r.invariant.size(), 2u);
  EXPECT_EQ(r.invariant[0].upper, "FC_1");
  EXPECT_EQ(r.invariant[0].lower, "conv_1");
  EXPECT_EQ(r.invariant[0].through, std::vector<std::string>{"pooling_1"});
  EXPECT_EQ(r.invariant[1].upper, "output");
  EXPECT_EQ(r.invariant[1].lower, "FC_1");
  EXPECT_TRUE(r.invariant[1].through.empty());
  for (const GradientFlowPair& p : r.invariant) {
    ASSERT_NE(p.entering, 0) << p.upper << ": no gradient reached the layer below";
    EXPECT_LE(p.relative_difference, 1e-5) << p.upper;
    EXPECT_LE(p.max_step_relative_difference, 1e-5) << p.upper;
  }
  // Directly connected, the two sums are the same numbers (§14).
  EXPECT_EQ(r.invariant[1].passed_down, r.invariant[1].entering);
  CheckOutputLayer(run);
}

TEST(GradientFlowCollector, ResidualBlocksPairConv2WithConv1Only) {
  BatchRun run;
  RunBatch(kResNetLayers, run);
  if (::testing::Test::HasFatalFailure()) return;
  std::vector<std::string> names;
  for (const GradientFlowLayer& l : run.report.layers) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv_1", "block_1.conv1", "block_1.conv2",
                                             "block_1.shortcut", "block_2.conv1",
                                             "block_2.conv2", "output"}));
  ASSERT_EQ(run.report.invariant.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    const GradientFlowPair& p = run.report.invariant[k];
    const std::string block = k == 0 ? "block_1" : "block_2";
    EXPECT_EQ(p.upper, block + ".conv2");
    EXPECT_EQ(p.lower, block + ".conv1");
    if (p.entering != 0) {
      EXPECT_LE(p.relative_difference, 1e-5) << block;
    }
  }
  CheckOutputLayer(run);
}

}  // namespace
}  // namespace edbp::train

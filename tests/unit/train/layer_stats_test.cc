// Per-layer statistics of a ResNet: each convolution of a residual block is its own
// entry ("<block>.conv1", "<block>.conv2", "<block>.shortcut"), so the dashboard's
// gradient-flow view covers residual networks.
#include "core/train/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace edbp::train {
namespace {

using testing::Cpu;
using testing::Host;

constexpr char kResNet[] = R"(Network:
  epochs: 1
  batch_size: 2
  n_steps: 4
  dataset: "Synthetic"
  input_shape: [2, 8, 8]
  optimizer: "AdamW"
  lr: 0.001
  loss: "count"
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
  block_1:
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

double L2(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

TEST(LayerStatsCollector, ResidualBlocksReportEachConvolution) {
  auto config = config::ParseConfig(kResNet);
  ASSERT_TRUE(config.ok()) << config.status();
  auto net = Network::Create(*config, Cpu(), 3);
  ASSERT_TRUE(net.ok()) << net.status();
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 2.0f);
  std::vector<float> values(4 * 2 * 2 * 8 * 8);
  for (float& v : values) v = u(rng);
  auto x = Tensor::FromHost(Cpu(), {4, 2, 2, 8, 8}, values);
  ASSERT_TRUE(x.ok());
  const std::vector<int32_t> labels = {0, 2};
  auto y = Tensor::FromHostI32(Cpu(), {2}, labels);
  ASSERT_TRUE(y.ok());
  ASSERT_TRUE((*net)->InitializeByBisection(*x).ok());  // so that every layer spikes

  auto stats = LayerStatsCollector::Attach(**net);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_TRUE((*stats)->StartEpoch().ok());
  auto fwd = (*net)->Forward(*x, &*y, /*training=*/true, /*keep_context=*/true);
  ASSERT_TRUE(fwd.ok()) << fwd.status();
  auto loss = Loss::Create(config->network);
  ASSERT_TRUE(loss.ok());
  Tensor grad;
  ASSERT_TRUE((*loss)->Compute(fwd->output, *y, &grad).ok());
  ASSERT_TRUE((*net)->Backward(grad, *fwd).ok());
  ASSERT_TRUE((*stats)->BeforeStep().ok());
  ASSERT_TRUE((*stats)->AfterStep().ok());  // no step taken: ‖ΔW‖ = 0
  auto epoch = (*stats)->EndEpoch();
  ASSERT_TRUE(epoch.ok()) << epoch.status();

  // conv_1, block_1 (3 convs: stride 2 needs a shortcut), block_2 (identity), output.
  std::vector<std::string> names;
  std::vector<int64_t> indices;
  for (const LayerStats& s : *epoch) {
    names.push_back(s.name);
    indices.push_back(s.index);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"conv_1", "block_1.conv1", "block_1.conv2",
                                             "block_1.shortcut", "block_2.conv1",
                                             "block_2.conv2", "output"}));
  EXPECT_EQ(indices, (std::vector<int64_t>{0, 1, 1, 1, 2, 2, 3}));
  // The statistics are the blocks' own: grad_norm is ‖dL/dW‖ of net.{i}.{conv}.weight
  // (one batch), weight_norm its ‖W‖.
  for (const Parameter& p : (*net)->Parameters()) {
    for (const LayerStats& s : *epoch) {
      const std::string part = s.name.substr(s.name.find('.') + 1);
      const std::string want = "net." + std::to_string(s.index) + "." +
                               (s.name.find('.') == std::string::npos ? "" : part + ".") +
                               "weight";
      if (p.name != want) continue;
      EXPECT_NEAR(s.grad_norm, L2(Host(p.grad)), 1e-6 * (1 + s.grad_norm)) << s.name;
      EXPECT_NEAR(s.weight_norm, L2(Host(p.value)), 1e-6 * s.weight_norm) << s.name;
      EXPECT_GT(s.weight_norm, 0) << s.name;
    }
  }
  for (const LayerStats& s : *epoch) {
    EXPECT_GE(s.firing_rate, 0) << s.name;
    EXPECT_LE(s.firing_rate, 1) << s.name;
    EXPECT_EQ(s.update_ratio, 0) << s.name;
  }
  // Spikes and gradients were observed inside the blocks.
  double block_spikes = 0, block_grad = 0;
  for (size_t i = 1; i <= 5; ++i) {
    block_spikes += (*epoch)[i].firing_rate;
    block_grad += (*epoch)[i].grad_norm;
  }
  EXPECT_GT(block_spikes, 0);
  EXPECT_GT(block_grad, 0);

  // The output layer's activity, recomputed from its raw spikes [T, B, 3] (before label
  // injection): the firing rate is their mean, the silent fraction the share of the 3
  // neurons that never fired in any step or sample.
  const std::vector<float> raw = Host(fwd->raw_output);
  ASSERT_EQ(raw.size(), 4u * 2u * 3u);
  double total = 0;
  std::vector<float> per_neuron(3, 0.0f);
  for (size_t i = 0; i < raw.size(); ++i) {
    total += raw[i];
    per_neuron[i % 3] += raw[i];
  }
  const double silent =
      static_cast<double>(std::count(per_neuron.begin(), per_neuron.end(), 0.0f));
  const LayerStats& out = epoch->back();
  EXPECT_DOUBLE_EQ(out.firing_rate, total / (3.0 * 4 * 2));
  EXPECT_DOUBLE_EQ(out.silent_fraction, silent / 3.0);
  EXPECT_GT(total, 0);
}

}  // namespace
}  // namespace edbp::train

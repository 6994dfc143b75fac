// One training step against the reference's own numbers (tests/data/reference-small,
// produced by the authors' PyTorch code): spikes exactly, loss and every gradient to
// ~1e-5 of each tensor's largest value (ALGORITHM.md §12).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/readout.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"

namespace edbp {
namespace {

constexpr char kDir[] = "tests/data/reference-small/";

class ReferenceParity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = kernels::GetBackend({kernels::DeviceType::kCpu, 0});
    ASSERT_TRUE(backend.ok());
    cpu_ = *backend;
    auto config = config::LoadConfigFile(std::string(kDir) + "config.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto net = Network::Create(config_, cpu_, /*seed=*/0);
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = std::move(*net);
    auto init = ReadSafeTensors(std::string(kDir) + "init.safetensors");
    ASSERT_TRUE(init.ok()) << init.status();
    auto step = ReadSafeTensors(std::string(kDir) + "step.safetensors");
    ASSERT_TRUE(step.ok()) << step.status();
    step_ = std::move(*step);
    // Load the reference's initial weights under their state_dict names.
    size_t loaded = 0;
    for (Parameter& p : net_->Parameters()) {
      auto it = init->tensors.find(p.name);
      ASSERT_NE(it, init->tensors.end()) << p.name << " missing from init.safetensors";
      ASSERT_EQ(it->second.shape, p.value.shape()) << p.name;
      ASSERT_TRUE(
          cpu_->CopyHostToDevice(p.value.f32(), it->second.data.data(), p.value.bytes())
              .ok());
      ++loaded;
    }
    EXPECT_EQ(loaded, init->tensors.size()) << "every fixture tensor maps to a parameter";
  }

  const HostTensor& Fixture(const std::string& name) {
    auto it = step_.tensors.find(name);
    EXPECT_NE(it, step_.tensors.end()) << name;
    return it->second;
  }

  kernels::Backend* cpu_ = nullptr;
  config::Config config_;
  std::unique_ptr<Network> net_;
  SafeTensors step_;
};

TEST_F(ReferenceParity, OneTrainingStep) {
  const HostTensor& inputs = Fixture("inputs");
  ASSERT_EQ(inputs.shape, (Shape{5, 50, 1, 28, 28}));
  auto x = Tensor::FromHost(cpu_, inputs.shape, inputs.data);
  ASSERT_TRUE(x.ok());
  std::vector<int32_t> label_values;
  for (float v : Fixture("labels").data) label_values.push_back(static_cast<int32_t>(v));
  auto labels = Tensor::FromHostI32(cpu_, {50}, label_values);
  ASSERT_TRUE(labels.ok());

  auto fwd = net_->Forward(*x, &*labels, /*training=*/true, /*keep_context=*/true);
  ASSERT_TRUE(fwd.ok()) << fwd.status();
  // Spikes: identical, before and after label injection.
  EXPECT_EQ(*fwd->raw_output.ToHost(), Fixture("outputs_raw").data);
  EXPECT_EQ(*fwd->output.ToHost(), Fixture("outputs").data);

  auto loss = Loss::Create(config_.network);
  ASSERT_TRUE(loss.ok()) << loss.status();
  Tensor grad;
  auto value = (*loss)->Compute(fwd->output, *labels, &grad);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(*value, Fixture("loss").data[0], 1e-5);

  ASSERT_TRUE(net_->Backward(grad, *fwd).ok());
  double sum_sq = 0;
  int checked = 0;
  for (Parameter& p : net_->Parameters()) {
    const HostTensor& want = Fixture(p.name + ".grad");
    ASSERT_EQ(want.shape, p.grad.shape()) << p.name;
    const std::vector<float> got = *p.grad.ToHost();
    float scale = 0;
    for (float v : want.data) scale = std::max(scale, std::fabs(v));
    ASSERT_GT(scale, 0) << p.name;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst =
          std::max(worst, std::fabs(static_cast<double>(got[i]) - want.data[i]) / scale);
      sum_sq += static_cast<double>(got[i]) * got[i];
    }
    EXPECT_LT(worst, 2e-5) << p.name << ".grad: worst error / max |grad| = " << worst;
    ++checked;
  }
  EXPECT_EQ(checked, 12);  // W, g, b of 4 spiking layers
  // Clipping to 1 (§10) through the optimiser's code: the norm over all W, g, b and
  // the coefficient the reference would scale by.
  std::vector<Parameter> params = net_->Parameters();
  const std::vector<float> before = *params[0].grad.ToHost();
  auto norm = ClipGradNorm(params, 1.0);
  ASSERT_TRUE(norm.ok()) << norm.status();
  const double want_norm = Fixture("grad_total_norm").data[0];
  EXPECT_NEAR(*norm, want_norm, 1e-5 * want_norm);
  EXPECT_NEAR(std::sqrt(sum_sq), want_norm, 1e-5 * want_norm);
  const double coef = Fixture("clip_coef").data[0];
  EXPECT_NEAR(1.0 / (*norm + 1e-6), coef, 1e-5 * coef);
  const std::vector<float> after = *params[0].grad.ToHost();
  if (coef < 1) {
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_NEAR(after[i], before[i] * coef, 1e-6 * std::fabs(before[i]) + 1e-12) << i;
    }
  } else {
    EXPECT_EQ(after, before);
  }

  // Training accuracy reads the raw outputs (§9); a sanity figure for this batch.
  const std::vector<int32_t> predicted =
      Predict(Fixture("outputs_raw").data, 5, 50, config_.network.n_class);
  EXPECT_EQ(predicted.size(), 50u);
}

}  // namespace
}  // namespace edbp

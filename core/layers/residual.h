// Residual block (ALGORITHM.md §5, the reference's networks/resnet.py BasicBlock):
// y = conv2(conv1(x)) + shortcut(x), shortcut = x or a 1x1 stride-s conv of x. Its
// convolutions come from config::ResidualBlockParts. Outputs range over 0..3.
//
// HasParameters() stays false: callers that read it as "is a SpikingLayer" must not
// cast a block; its parameters are reached through conv1(), conv2(), shortcut(), which
// is how the per-layer statistics (core/train/layer_stats.h) observe each of them.
#ifndef EDBP_CORE_LAYERS_RESIDUAL_H_
#define EDBP_CORE_LAYERS_RESIDUAL_H_

#include <memory>
#include <random>

#include "core/layers/conv.h"
#include "core/layers/layer.h"

namespace edbp {

// §5 backward of s = a + b: da = G·a/s, db = G·b/s with s := 1 where s = 0 (in that
// float order: (G·a)/s). All four tensors have a's shape; da, db are overwritten.
// Computed on the host (round trip for device tensors).
absl::Status SplitSumGradient(const Tensor& grad, const Tensor& a, const Tensor& b,
                              Tensor& grad_a, Tensor& grad_b);

class ResidualLayer final : public Layer {
 public:
  // Builds the block's convs (W = 0, g = 1, b = 0; see ResetParameters).
  static absl::StatusOr<std::unique_ptr<ResidualLayer>> Create(
      const config::LayerConfig& config, const NeuronSetup* neuron,
      kernels::Backend* backend);

  absl::StatusOr<LayerForward> Forward(const Tensor& x,
                                       const ForwardOptions& options) override;
  absl::StatusOr<Tensor> Backward(Tensor grad_output,
                                  std::unique_ptr<LayerContext> context,
                                  bool need_input_grad) override;

  // §4 init of conv1, conv2, then the shortcut, drawing from `rng` in that order.
  absl::Status ResetParameters(std::mt19937_64& rng);

  ConvLayer& conv1() { return *conv1_; }
  ConvLayer& conv2() { return *conv2_; }
  // Null for an identity shortcut.
  ConvLayer* shortcut() { return shortcut_.get(); }
  bool has_shortcut() const { return shortcut_ != nullptr; }

 private:
  explicit ResidualLayer(config::LayerConfig config) : Layer(std::move(config)) {}

  std::unique_ptr<ConvLayer> conv1_, conv2_, shortcut_;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_RESIDUAL_H_

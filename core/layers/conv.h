// Convolutional spiking layer (ALGORITHM.md §5): 2-D convolution of the [T·B, C, H, W]
// input with Ŵ (stride, padding, dilation; groups 1; no bias), then the neuron.
#ifndef EDBP_CORE_LAYERS_CONV_H_
#define EDBP_CORE_LAYERS_CONV_H_

#include <memory>

#include "core/layers/spiking_layer.h"

namespace edbp {

class ConvLayer final : public SpikingLayer {
 public:
  // Allocates W [c_out, c_in, kh, kw], g and b [c_out, 1, 1, 1] (W = 0, g = 1, b = 0).
  static absl::StatusOr<std::unique_ptr<ConvLayer>> Create(
      const config::LayerConfig& config, const NeuronSetup* neuron,
      kernels::Backend* backend);

 private:
  using SpikingLayer::SpikingLayer;
  kernels::Conv2dShape ConvShape(const Shape& x_shape) const;
  Shape OutputShape(const Tensor& x) const override;
  // An input the caller says repeats (ForwardOptions::input_repeats, the static
  // encoding, §6): the forward convolves one step and the neuron reads that one current
  // at every step (identical numbers at 1/T of the cost), and the filter gradient sums
  // the steps' gradients before correlating once. On every backend alike.
  bool HasRepeatedInputPath() const override { return true; }
  absl::Status Current(const Tensor& x, const Tensor& w_hat, Tensor& current) override;
  absl::Status FilterGrad(const Tensor& grad_w, const Tensor& x, bool input_repeats,
                          Tensor& grad_w_hat) override;
  absl::Status DataGrad(const Tensor& grad_in, const Tensor& w_hat,
                        Tensor& grad_x) override;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_CONV_H_

#include "core/layers/conv.h"

#include "base/check.h"
#include "kernels/backend.h"

namespace edbp {

absl::StatusOr<std::unique_ptr<ConvLayer>> ConvLayer::Create(
    const config::LayerConfig& config, const NeuronSetup* neuron,
    kernels::Backend* backend) {
  std::unique_ptr<ConvLayer> layer(new ConvLayer(config, neuron));
  EDBP_RETURN_IF_ERROR(
      layer->AllocateParameters(backend,
                                {config.out_channels, config.in_channels,
                                 config.kernel_size[0], config.kernel_size[1]},
                                {config.out_channels, 1, 1, 1}));
  return layer;
}

kernels::Conv2dShape ConvLayer::ConvShape(const Shape& x_shape) const {
  EDBP_CHECK(x_shape.size() == 5)
      << name() << ": input must be [T,B,C,H,W], got " << ShapeToString(x_shape);
  const config::LayerConfig& c = config();
  EDBP_CHECK(x_shape[2] == c.in_channels) << name() << ": " << x_shape[2] << " channels";
  return {.n = x_shape[0] * x_shape[1],
          .c_in = x_shape[2],
          .h = x_shape[3],
          .w = x_shape[4],
          .c_out = c.out_channels,
          .kh = c.kernel_size[0],
          .kw = c.kernel_size[1],
          .stride_h = c.stride[0],
          .stride_w = c.stride[1],
          .pad_h = c.padding[0],
          .pad_w = c.padding[1],
          .dil_h = c.dilation[0],
          .dil_w = c.dilation[1]};
}

Shape ConvLayer::OutputShape(const Tensor& x) const {
  const kernels::Conv2dShape s = ConvShape(x.shape());
  EDBP_CHECK(s.out_h() >= 1 && s.out_w() >= 1) << name() << ": kernel larger than input";
  return {x.dim(0), x.dim(1), s.c_out, s.out_h(), s.out_w()};
}

absl::Status ConvLayer::Current(const Tensor& x, const Tensor& w_hat, Tensor& current) {
  // Each image is convolved on its own, so a static input's step 0 (SpikingLayer gives
  // x one step long then) yields exactly the numbers of the full [T·B] call.
  return x.backend()->Conv2dForward({.shape = ConvShape(x.shape()),
                                     .x = x.f32(),
                                     .w = w_hat.f32(),
                                     .y = current.f32()});
}

absl::Status ConvLayer::FilterGrad(const Tensor& grad_w, const Tensor& x,
                                   bool input_repeats, Tensor& grad_w_hat) {
  kernels::Conv2dShape shape = ConvShape(x.shape());
  // Static input: dŴ = Σ_t Σ_b grad_w_[t,b] ⋆ x[b] = Σ_b (Σ_t grad_w_[t,b]) ⋆ x[b];
  // grad_w holds the steps' sums (SpikingLayer::FilterGrad), correlated with x's first
  // step.
  if (input_repeats) shape.n = x.dim(1);
  return x.backend()->Conv2dBackwardFilter(
      {.shape = shape, .x = x.f32(), .dy = grad_w.f32(), .dw = grad_w_hat.f32()});
}

absl::Status ConvLayer::DataGrad(const Tensor& grad_in, const Tensor& w_hat,
                                 Tensor& grad_x) {
  return grad_in.backend()->Conv2dBackwardData({.shape = ConvShape(grad_x.shape()),
                                                .dy = grad_in.f32(),
                                                .w = w_hat.f32(),
                                                .dx = grad_x.f32()});
}

}  // namespace edbp

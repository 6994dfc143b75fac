// Dropout (ALGORITHM.md §5): one Bernoulli keep-draw per (sample, neuron) for
// [T, B, N] and per (sample, channel) for [T, B, C, H, W], shared by every time step;
// kept values scale by 1/(1-p). Identity when p <= 0 or p >= 1 and outside training.
#ifndef EDBP_CORE_LAYERS_DROPOUT_H_
#define EDBP_CORE_LAYERS_DROPOUT_H_

#include "core/layers/layer.h"

namespace edbp {

class DropoutLayer final : public Layer {
 public:
  explicit DropoutLayer(config::LayerConfig config) : Layer(std::move(config)) {}

  absl::StatusOr<LayerForward> Forward(const Tensor& x,
                                       const ForwardOptions& options) override;
  absl::StatusOr<Tensor> Backward(Tensor grad_output,
                                  std::unique_ptr<LayerContext> context,
                                  bool need_input_grad) override;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_DROPOUT_H_

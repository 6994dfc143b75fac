// Fully connected spiking layer (ALGORITHM.md §5): I[t] = x[t] Ŵᵀ, then the neuron.
// Accepts [T, B, N] or [T, B, C, H, W] (flattened to C·H·W in that order).
#ifndef EDBP_CORE_LAYERS_LINEAR_H_
#define EDBP_CORE_LAYERS_LINEAR_H_

#include <memory>

#include "core/layers/spiking_layer.h"

namespace edbp {

class LinearLayer final : public SpikingLayer {
 public:
  // Allocates W [n_outputs, n_inputs], g and b [n_outputs, 1] on `backend`, with
  // W = 0, g = 1, b = 0 (call ResetParameters for the random init).
  static absl::StatusOr<std::unique_ptr<LinearLayer>> Create(
      const config::LayerConfig& config, const NeuronSetup* neuron,
      kernels::Backend* backend);

 private:
  using SpikingLayer::SpikingLayer;
  Shape OutputShape(const Tensor& x) const override;
  absl::Status Current(const Tensor& x, const Tensor& w_hat, Tensor& current) override;
  absl::Status FilterGrad(const Tensor& grad_w, const Tensor& x, bool input_repeats,
                          Tensor& grad_w_hat) override;
  absl::Status DataGrad(const Tensor& grad_in, const Tensor& w_hat,
                        Tensor& grad_x) override;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_LINEAR_H_

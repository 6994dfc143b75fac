// Shared machinery of conv and linear layers (ALGORITHM.md §2-§5): weight
// standardisation, the synaptic current (virtual), neuron forward, label injection,
// neuron backward, and the parameter gradients.
#ifndef EDBP_CORE_LAYERS_SPIKING_LAYER_H_
#define EDBP_CORE_LAYERS_SPIKING_LAYER_H_

#include <memory>
#include <random>

#include "core/layers/layer.h"
#include "kernels/ops.h"

namespace edbp {

// Per-network neuron settings shared by every spiking layer.
struct NeuronSetup {
  kernels::NeuronParams params;  // threshold is overwritten per layer
  float max_dudt_inv = 123456792.0f;
  Tensor syn_a;                             // [T+1] on the network's backend (§1)
  Tensor partial_a;                         // [T+1]
  bool exact_weight_norm_backward = false;  // §4 weight_norm_backward: exact
};

// Saved by SpikingLayer::Forward for its Backward.
struct SpikingContext : LayerContext {
  Tensor x;      // the input as given
  Tensor w_hat;  // standardised weights [c_out, fan_in]
  Tensor mean;   // [c_out]
  Tensor var;    // [c_out]
  Tensor du;     // [T, B, ...out]
  Tensor du_t;
  Tensor o;                    // spikes after injection
  bool input_repeats = false;  // x is the same at every step (ForwardOptions)
};

class SpikingLayer;

// Watches a spiking layer during training (per-layer statistics). Calls happen on the
// training thread; an error fails the step.
class SpikingObserver {
 public:
  virtual ~SpikingObserver() = default;
  // After a training forward (options.training): spike_counts [B, ...] holds each
  // neuron's number of spikes over the `steps` time steps, before label injection.
  virtual absl::Status OnTrainingSpikes(const SpikingLayer& layer,
                                        const Tensor& spike_counts, int64_t steps) = 0;
  // During Backward: event_grad = dL/do ⊙ o (the gradient entering the layer's
  // neurons, §5) and input_grad = dL/dx passed to the layer below (undefined for the
  // first layer).
  virtual absl::Status OnBackward(const SpikingLayer& layer, const Tensor& event_grad,
                                  const Tensor& input_grad) = 0;
  // After every forward that keeps its context (training or not; the gradient-flow
  // report, core/train/gradient_flow.h): o [T, B, ...] the layer's spikes before label
  // injection, valid during the call only. Default: nothing.
  virtual absl::Status OnForwardSpikes(const SpikingLayer& /*layer*/,
                                       const Tensor& /*o*/) {
    return absl::OkStatus();
  }
};

class SpikingLayer : public Layer {
 public:
  bool HasParameters() const override { return true; }

  absl::StatusOr<LayerForward> Forward(const Tensor& x,
                                       const ForwardOptions& options) override;
  absl::StatusOr<Tensor> Backward(Tensor grad_output,
                                  std::unique_ptr<LayerContext> context,
                                  bool need_input_grad) override;

  // Parameters in the reference's shapes: weight [c_out, c_in, kh, kw] or [out, in];
  // norm_weight (g) and norm_bias (b) [c_out, 1, 1, 1] or [out, 1] (§4).
  Tensor& weight() { return weight_; }
  Tensor& norm_weight() { return norm_weight_; }
  Tensor& norm_bias() { return norm_bias_; }
  Tensor& grad_weight() { return grad_weight_; }
  Tensor& grad_norm_weight() { return grad_norm_weight_; }
  Tensor& grad_norm_bias() { return grad_norm_bias_; }
  int64_t out_channels() const { return weight_.dim(0); }
  int64_t fan_in() const { return weight_.numel() / weight_.dim(0); }

  // Not owned; null (the default) disables the calls.
  void set_observer(SpikingObserver* observer) { observer_ = observer; }
  SpikingObserver* observer() const { return observer_; }

  // PyTorch's default init (§4): W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), g = 1, b = 0.
  absl::Status ResetParameters(std::mt19937_64& rng);

 protected:
  SpikingLayer(config::LayerConfig config, const NeuronSetup* neuron)
      : Layer(std::move(config)), neuron_(neuron) {}
  // Allocates W, g, b and their gradients.
  absl::Status AllocateParameters(kernels::Backend* backend, const Shape& weight_shape,
                                  const Shape& norm_shape);

  // Output shape [T, B, ...] for an input x.
  virtual Shape OutputShape(const Tensor& x) const = 0;
  // Whether the layer can use a repeated input (ForwardOptions::input_repeats): the
  // current of step 0 then serves every step (the neuron reads it T times,
  // NeuronForwardArgs::static_input) and FilterGrad takes Σ_t grad_w_.
  virtual bool HasRepeatedInputPath() const { return false; }
  // I = x · Ŵ (linear) or conv(x, Ŵ); `current` has OutputShape(x) (with x one step
  // long when the input repeats).
  virtual absl::Status Current(const Tensor& x, const Tensor& w_hat, Tensor& current) = 0;
  // dL/dŴ from grad_w_ (shape of the output) and x; overwrites grad_w_hat.
  // input_repeats: the Forward took the repeated-input path; grad_w is then
  // Σ_t grad_w_ (NeuronBackwardArgs::grad_w_sum), one step long.
  virtual absl::Status FilterGrad(const Tensor& grad_w, const Tensor& x,
                                  bool input_repeats, Tensor& grad_w_hat) = 0;
  // grad_in_ back through Ŵ: the un-masked input gradient, shape of x.
  virtual absl::Status DataGrad(const Tensor& grad_in, const Tensor& w_hat,
                                Tensor& grad_x) = 0;

  const NeuronSetup* neuron_;

 private:
  SpikingObserver* observer_ = nullptr;
  Tensor weight_, norm_weight_, norm_bias_;
  Tensor grad_weight_, grad_norm_weight_, grad_norm_bias_;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_SPIKING_LAYER_H_

// The layer interface: Forward returns a context that Backward consumes (no globals,
// STYLE.md #8). Activations are time-major: [T, B, C, H, W] or [T, B, N].
//
// A Layer owns its parameters and their gradients; it is used by one thread at a time.
// Backward overwrites the parameter gradients (one backward per optimiser step).
#ifndef EDBP_CORE_LAYERS_LAYER_H_
#define EDBP_CORE_LAYERS_LAYER_H_

#include <memory>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/tensor.h"

namespace edbp {

struct ForwardOptions {
  // Training mode: dropout draws masks (§5). Test and init passes use false.
  bool training = false;
  // Output layer only: labels [B] int32 → label injection (§5).
  const Tensor* labels = nullptr;
  // Source of dropout masks; required when training with dropout.
  std::mt19937_64* rng = nullptr;
  // False when no Backward will follow: the layer may skip saving anything.
  bool keep_context = true;
  // False when the Backward will not be asked for dL/dx (the network's first layer):
  // a spiking layer then keeps no du_t, which only feeds grad_in_ (§3, §5).
  bool input_grad = true;
  // The input is one step repeated over T (a static image, §6), as the caller knows: a
  // conv layer then computes its current from step 0 only and its filter gradient from
  // Σ_t grad_w_ (conv.h), on every backend alike. Ignored for T < 2 and by layers
  // without that path. The caller must be right: nothing compares the steps.
  bool input_repeats = false;
  // Data parallel (issue 18): x holds samples [batch_begin, batch_begin + B) of a
  // global batch of `global_batch` samples (0: x is the whole batch). Dropout draws the
  // whole batch's masks, as one process would, and keeps this slice's.
  int64_t batch_begin = 0;
  int64_t global_batch = 0;
};

// What a Forward saves for its Backward. Opaque outside the layer that made it.
class LayerContext {
 public:
  virtual ~LayerContext() = default;
};

struct LayerForward {
  Tensor output;      // [T, B, ...]; after injection for the output layer
  Tensor raw_output;  // output layer with labels: spikes before injection (§5, §9)
  std::unique_ptr<LayerContext> context;  // null when !keep_context
};

class Layer {
 public:
  explicit Layer(config::LayerConfig config) : config_(std::move(config)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const config::LayerConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  // conv and linear have weights (W, g, b); pooling and dropout do not.
  virtual bool HasParameters() const { return false; }

  virtual absl::StatusOr<LayerForward> Forward(const Tensor& x,
                                               const ForwardOptions& options) = 0;
  // dL/d(output) → dL/d(input), consuming the context of the matching Forward. When
  // need_input_grad is false (the first layer) the returned Tensor is undefined.
  // grad_output is the layer's: a caller that hands over its last handle (std::move)
  // lets the layer reuse the buffer once nothing else shares it (Tensor::sole_owner).
  virtual absl::StatusOr<Tensor> Backward(Tensor grad_output,
                                          std::unique_ptr<LayerContext> context,
                                          bool need_input_grad) = 0;

 private:
  const config::LayerConfig config_;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_LAYER_H_

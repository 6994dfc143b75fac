// A network assembled from a validated config: its layers in YAML order, the shared
// neuron setup, forward/backward over the whole stack, and init by bisection (§7).
//
// Parameters are named with the reference's state_dict keys: net.{i}.weight,
// net.{i}.norm_weight, net.{i}.norm_bias, i = index in the Layers list counting
// pooling and dropout; a residual block's convs are net.{i}.{conv1|conv2|shortcut}.*
// (the reference's ResNet names them layer{s}.{b}.{conv1|conv2|downsample}). Not
// thread-safe: one training loop drives one Network.
#ifndef EDBP_CORE_NETWORK_H_
#define EDBP_CORE_NETWORK_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/layers/layer.h"
#include "core/layers/spiking_layer.h"
#include "core/parameter.h"
#include "core/tensor.h"

namespace edbp {

struct NetworkForward {
  Tensor output;      // [T, B, n_class], after label injection when labels were given
  Tensor raw_output;  // before injection (== output without labels), for §9 accuracy
  std::vector<std::unique_ptr<LayerContext>> contexts;  // one per layer; empty if !keep
};

class Network {
 public:
  // Builds the layers on `backend` and initialises W with PyTorch's default (§4) from
  // `seed`. Dropout masks draw from an RNG seeded from `seed` too.
  static absl::StatusOr<std::unique_ptr<Network>> Create(const config::Config& config,
                                                         kernels::Backend* backend,
                                                         uint64_t seed);

  // x: [T, B, C, H, W] or [T, B, N] on the network's backend. labels: [B] int32 or
  // null. training turns dropout on; keep_context saves what Backward needs.
  // input_repeats: x is one step repeated over T (the static encoding, §6), as the
  // caller knows; the first layer is told (ForwardOptions::input_repeats).
  absl::StatusOr<NetworkForward> Forward(const Tensor& x, const Tensor* labels,
                                         bool training, bool keep_context,
                                         bool input_repeats = false);
  // Backpropagates dL/d(output) through every layer, consuming `forward`'s contexts,
  // and leaves each parameter's gradient in its grad tensor (overwritten).
  absl::Status Backward(const Tensor& grad_output, NetworkForward& forward);

  // §7: bisection of every conv/linear layer's g on the input x (labels none,
  // dropout off). Returns the factor chosen for each spiking layer, in order.
  // input_repeats: as for Forward.
  absl::StatusOr<std::vector<double>> InitializeByBisection(const Tensor& x,
                                                            bool input_repeats = false);

  // W, g, b of every conv/linear layer in order, named by state_dict key.
  std::vector<Parameter> Parameters();
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const config::Config& config() const { return config_; }
  kernels::Backend* backend() const { return backend_; }
  std::mt19937_64& rng() { return rng_; }
  // Data parallel (issue 18): the next Forwards get samples [begin, begin + B) of
  // global batches of `global` samples (ForwardOptions::batch_begin); (0, 0): whole
  // batches.
  void set_batch_slice(int64_t begin, int64_t global) {
    slice_begin_ = begin;
    slice_global_ = global;
  }

 private:
  Network(config::Config config, kernels::Backend* backend, uint64_t seed)
      : config_(std::move(config)), backend_(backend), rng_(seed) {}

  const config::Config config_;
  kernels::Backend* const backend_;
  NeuronSetup neuron_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::mt19937_64 rng_;
  int64_t slice_begin_ = 0, slice_global_ = 0;
};

}  // namespace edbp

#endif  // EDBP_CORE_NETWORK_H_

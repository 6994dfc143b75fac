// The gradient-flow report of one batch (issue 19 item 5; defined in ALGORITHM.md
// §14, its JSON schema in README "Gradient flow"): per conv/linear layer and time step,
// the gradient entering the layer's neurons, the gradient passed down to the layer below,
// the spikes, and per layer ‖dL/dW‖ and the silent neurons, with the paper's
// gradient-sum invariant checked pair by pair.
//
// A GradientFlowCollector observes every spiking layer of a Network (a residual
// block's convolutions each as its own entry, as core/train/layer_stats.h) during one
// forward (keep_context) and its backward; it replaces the layers' observers for its
// lifetime and gives the previous ones back when destroyed. All sums are taken on the
// host in double from the float32 tensors. Used from one thread.
#ifndef EDBP_CORE_TRAIN_GRADIENT_FLOW_H_
#define EDBP_CORE_TRAIN_GRADIENT_FLOW_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "core/layers/residual.h"
#include "core/layers/spiking_layer.h"
#include "core/network.h"

namespace edbp::train {

// The JSON schema's version (GradientFlowToJson); bumped on any incompatible change.
// 2 (issue 19, one vocabulary): layers[].weight_grad_norm of version 1 is grad_norm,
// the name of ‖dL/dW‖ in every view.
inline constexpr int kGradientFlowVersion = 2;

// One conv/linear layer of the batch. Vectors over time steps have T entries.
struct GradientFlowLayer {
  std::string name;     // the YAML name; "<block>.conv1" etc. inside a residual block
  int64_t index = 0;    // i of net.{i} (pooling and dropout counted)
  std::string type;     // "conv" or "linear"
  int64_t neurons = 0;  // per sample: C·H·W or N
  // Σ over the batch and the layer's neurons of dL/do ⊙ o at step t: the gradient
  // entering the neurons ("Σ dL/dt", ALGORITHM.md §5; o after label injection).
  std::vector<double> grad_in;
  // Σ over the batch and the layer's inputs of dL/dx at step t: what the layer passes
  // down (with the 0.85 factor and ⊙ x, §5). Empty for the network's first layer,
  // which passes nothing down.
  std::vector<double> grad_out;
  // Spikes at step t over the batch (before label injection, as the training
  // accuracy's raw outputs, §9).
  std::vector<int64_t> spikes;
  // Neurons (per-sample units) that fired at no step for no sample of the batch.
  int64_t silent_neurons = 0;
  double silent_fraction = 0;
  // L2 norms of dL/dW (before clipping, §10) and of W.
  double grad_norm = 0;
  double weight_norm = 0;
};

// The invariant for one layer and the spiking layer right below it (§5, §13): what
// `upper` passes down equals what enters `lower`'s neurons, when nothing between them
// but adjusted-average or max pooling (with windows that tile the input) and dropout
// (off here).
struct GradientFlowPair {
  std::string upper;                 // the layer passing down
  std::string lower;                 // the spiking layer below it
  std::vector<std::string> through;  // the pooling/dropout layers between, in order
  double passed_down = 0;            // Σ_t upper.grad_out
  double entering = 0;               // Σ_t lower.grad_in
  // |passed_down - entering| / max(|entering|, 1e-30), and the largest of
  // |upper.grad_out[t] - lower.grad_in[t]| / max(|entering|, 1e-30) over t.
  double relative_difference = 0;
  double max_step_relative_difference = 0;
};

struct GradientFlowReport {
  std::string config;   // the config's source name
  std::string weights;  // the weights' file ("" when initialised from the seed, §7)
  uint64_t seed = 0;
  std::string split = "train";  // the batch's split, in file order, no augmentation
  int64_t batch = 0;            // which batch of the split (0-based)
  int64_t batches = 0;          // batches in the split
  int64_t batch_size = 0;       // samples of this batch
  int64_t time_steps = 0;       // T of the forward (t_train, §0)
  double loss = 0;              // the batch's loss (§8, with injection)
  std::vector<GradientFlowLayer> layers;  // in forward order
  std::vector<GradientFlowPair> invariant;
};

class GradientFlowCollector final : public SpikingObserver {
 public:
  // Observes every spiking layer of `net` until destroyed; `net` must outlive it.
  static absl::StatusOr<std::unique_ptr<GradientFlowCollector>> Attach(Network& net);
  ~GradientFlowCollector() override;

  // After the Forward (keep_context) and the Backward of one batch: the layers and the
  // invariant pairs of the report (the other fields are the caller's).
  // FAILED_PRECONDITION when a layer was not seen in both passes.
  absl::StatusOr<GradientFlowReport> Report() const;

  absl::Status OnTrainingSpikes(const SpikingLayer& layer, const Tensor& spike_counts,
                                int64_t steps) override;
  absl::Status OnBackward(const SpikingLayer& layer, const Tensor& event_grad,
                          const Tensor& input_grad) override;
  absl::Status OnForwardSpikes(const SpikingLayer& layer, const Tensor& o) override;

 private:
  struct Slot {
    SpikingLayer* layer = nullptr;
    SpikingObserver* previous = nullptr;  // given back by the destructor
    GradientFlowLayer entry;
    bool forward_seen = false, backward_seen = false;
    // The residual block holding the layer (null for a top-level layer).
    ResidualLayer* block = nullptr;
  };

  explicit GradientFlowCollector(Network& net) : net_(net) {}
  Slot& SlotOf(const SpikingLayer& layer);

  Network& net_;
  std::vector<Slot> slots_;
  std::unordered_map<const SpikingLayer*, size_t> by_layer_;
};

// The report as JSON ({"format": "edbp-gradient-flow", "version": 1, ...}, the schema
// of README "Gradient flow"); the same report gives the same bytes.
std::string GradientFlowToJson(const GradientFlowReport& report);

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_GRADIENT_FLOW_H_

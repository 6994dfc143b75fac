// Collects the per-layer statistics of EpochMetrics::layers during training.
//
// Attach it to a Network: it observes every conv/linear layer (SpikingObserver), and
// each convolution of a residual block as its own entry (named "<block>.conv1",
// "<block>.conv2", "<block>.shortcut", with the block's index), and is told around
// each optimiser step. All reductions run on the network's backend.
// Used from the training thread only.
#ifndef EDBP_CORE_TRAIN_LAYER_STATS_H_
#define EDBP_CORE_TRAIN_LAYER_STATS_H_

#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "core/layers/spiking_layer.h"
#include "core/network.h"
#include "core/train/epoch_progress.h"
#include "core/train/metrics.h"

namespace edbp::train {

class LayerStatsCollector final : public SpikingObserver {
 public:
  // Observes every spiking layer of `net` until destroyed; `net` must outlive it.
  static absl::StatusOr<std::unique_ptr<LayerStatsCollector>> Attach(Network& net);
  ~LayerStatsCollector() override;

  // Clears the accumulators.
  absl::Status StartEpoch();
  // After Backward, before clipping: dL/dW statistics; keeps a copy of every W.
  absl::Status BeforeStep();
  // After the optimiser step: ‖ΔW‖/‖W‖ against the copy.
  absl::Status AfterStep();
  // The epoch's statistics (weight norms read now).
  absl::StatusOr<std::vector<LayerStats>> EndEpoch();

  // The accumulators of the epoch so far, one per observed layer in order (for a
  // mid-epoch checkpoint, epoch_progress.h), and their restoration: Import replaces
  // the accumulators after StartEpoch, so that the statistics continue as if the
  // batches behind them had run in this process. Import errors (nothing changes then):
  // INVALID_ARGUMENT for another number of layers or a spike_counts of another size
  // than the layer's neurons per sample, or a negative or non-finite sum.
  absl::StatusOr<std::vector<LayerAccumulators>> Export() const;
  absl::Status Import(const std::vector<LayerAccumulators>& sums);

  absl::Status OnTrainingSpikes(const SpikingLayer& layer, const Tensor& spike_counts,
                                int64_t steps) override;
  absl::Status OnBackward(const SpikingLayer& layer, const Tensor& event_grad,
                          const Tensor& input_grad) override;

 private:
  struct Slot {
    SpikingLayer* layer = nullptr;
    int64_t index = 0;
    Tensor spike_counts;           // [neurons per sample], accumulated over the epoch
    double spikes_seen_steps = 0;  // Σ T·B over the epoch's forwards
    double grad_sum_in = 0, grad_sum_out = 0;
    int64_t backward_batches = 0;
    double grad_norm = 0, grad_mean = 0, grad_max_abs = 0;
    int64_t grad_batches = 0;
    Tensor weight_before;  // copy of W from BeforeStep to AfterStep, else empty
    double update_ratio = 0;
    int64_t updates = 0;
  };

  explicit LayerStatsCollector(Network& net) : net_(net) {}
  Slot& SlotOf(const SpikingLayer& layer);

  Network& net_;
  std::vector<Slot> slots_;
  std::unordered_map<const SpikingLayer*, size_t> by_layer_;
};

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_LAYER_STATS_H_

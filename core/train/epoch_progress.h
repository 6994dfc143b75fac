// Where an epoch stands between two of its batches: what a checkpoint written mid-epoch
// (a stop request, --checkpoint-every) holds besides the weights and the optimiser, so
// that a resume continues with the next batch exactly as the uninterrupted run would
// (issue 17).
//
// Nothing else is needed, because every other input of the next batch is derived:
// the epoch's sample order and its augmentation draws come from (seed, epoch) and the
// position in the epoch (the loader regenerates the first `batch` batches and drops
// them), the learning rate from (epoch, epochs) (§10), the dropout generator is the
// checkpoint's "network_rng", and the test pass uses no randomness. Wall times are not
// recorded: they differ from run to run, and a resumed process times only its part.
#ifndef EDBP_CORE_TRAIN_EPOCH_PROGRESS_H_
#define EDBP_CORE_TRAIN_EPOCH_PROGRESS_H_

#include <cstdint>
#include <vector>

namespace edbp::train {

// The running sums of one layer's LayerStats (layer_stats.h) over the epoch so far.
struct LayerAccumulators {
  std::vector<float> spike_counts;  // per neuron of one sample, summed over samples
  double spikes_seen_steps = 0;     // Σ T·B over the forwards
  double grad_sum_in = 0;
  double grad_sum_out = 0;
  int64_t backward_batches = 0;
  double grad_norm = 0;  // Σ over batches
  double grad_mean = 0;  // Σ over batches
  double grad_max_abs = 0;
  int64_t grad_batches = 0;
  double update_ratio = 0;  // Σ over steps
  int64_t updates = 0;
};

// The epoch after the checkpoint's completed ones (TrainingState::epoch + 1), after
// `batch` of its `batches` training batches.
struct EpochProgress {
  int64_t batch = 0;      // training batches done, in [0, batches]
  int64_t batches = 0;    // of the epoch; batch == batches: training done, test pending
  double loss_total = 0;  // Σ per-sample loss over the batches done (§8)
  int64_t correct = 0;    // of the raw outputs (§9)
  int64_t seen = 0;       // training samples of the batches done
  std::vector<LayerAccumulators> layers;  // LayerStatsCollector's slots, in order
};

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_EPOCH_PROGRESS_H_

// The training job: data, network, loss, optimiser and the epoch loop of
// ALGORITHM.md §10, reporting through a MetricsSink and keeping the last and best
// checkpoints.
//
// One Trainer runs on one thread. RequestStop() may be called from any thread (a
// signal handler too: it only sets an atomic flag); training then stops at the next
// batch boundary and Run() saves the last checkpoint before returning CANCELLED.
#ifndef EDBP_CORE_TRAIN_TRAINER_H_
#define EDBP_CORE_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"
#include "core/io/safetensors.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/train/checkpoint.h"
#include "core/train/checkpoint_names.h"
#include "core/train/layer_stats.h"
#include "core/train/metrics.h"

namespace edbp::train {

struct TrainerOptions {
  std::string out_dir;     // checkpoints go here (created if missing)
  int64_t epochs = 0;      // > 0 overrides Network.epochs
  uint64_t seed = 0;       // init, shuffling, augmentation, dropout
  int64_t data_limit = 0;  // > 0: first N samples of each split
  // Random data of the config's shape instead of the data set's files (data_limit
  // samples, default 1000 training / 200 test). Always on for dataset: Synthetic.
  bool synthetic_data = false;
  int64_t progress_every = 20;   // batches between progress records (0: never)
  std::string init_weights;      // safetensors with net.* keys: skip the bisection
  std::string resume_from;       // a checkpoint file to continue from
  bool keep_checkpoints = true;  // false: write none (e.g. --inspect-step)
};

struct EvalResult {
  double loss = 0;      // mean per sample
  double accuracy = 0;  // in [0, 1]
  int64_t samples = 0;
  int64_t n_class = 0;
  std::vector<int64_t> confusion;  // n_class × n_class, row = label, column = predicted
  double samples_per_second = 0;
};

class Trainer {
 public:
  // Loads the data, builds the network on `backend`, and initialises it: from
  // resume_from (weights, optimiser, RNG, epoch), else from init_weights, else by the
  // §7 bisection on the first batch_size training samples with the training transform.
  // `sink` (not owned) may be null. Errors: those of the data, checkpoint and backend.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(config::Config config,
                                                         kernels::Backend* backend,
                                                         TrainerOptions options,
                                                         MetricsSink* sink);

  // Trains the remaining epochs (train, test, checkpoints). CANCELLED when stopped.
  absl::Status Run();

  // One pass over the test split.
  absl::StatusOr<EvalResult> Evaluate();

  // One training step on the first batch_size training samples in file order, no
  // augmentation, dropout off, labels injected, no clipping and no optimiser step.
  // Returns `loss` [1], `outputs` [T,B,N] (after injection), `outputs_raw`, and
  // `net.{i}.{weight,norm_weight,norm_bias}.grad` (§ the reference fixture's layout).
  absl::StatusOr<SafeTensors> InspectStep();

  void RequestStop() { stop_.store(true); }
  Network& network() { return *net_; }
  const config::Config& config() const { return config_; }
  // Where the run stands: epochs completed (from the checkpoint when resumed) and the
  // run's epochs.
  const TrainingState& state() const { return state_; }
  int64_t epochs_done() const { return state_.epoch; }

 private:
  Trainer(config::Config config, TrainerOptions options, MetricsSink* sink)
      : config_(std::move(config)), options_(std::move(options)), sink_(sink) {}

  // x [T, B, C, H, W] (static images repeated t_train times; frame sequences
  // transposed from [B, T, ...], T = their frames, §6) and labels [B]. Returns whether
  // x is one step repeated over time (the static encoding), which the network's first
  // layer is told (ForwardOptions::input_repeats) on every backend.
  absl::StatusOr<bool> MakeInputs(const data::Batch& batch, Tensor& x, Tensor& y);
  absl::Status TrainEpoch(int64_t epoch, double lr, EpochMetrics& m);
  absl::Status SaveCheckpoints(const EpochMetrics& m);

  config::Config config_;
  const TrainerOptions options_;
  MetricsSink* const sink_;
  kernels::Backend* backend_ = nullptr;
  data::DataSplits data_;
  std::unique_ptr<Network> net_;
  std::unique_ptr<Loss> loss_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LayerStatsCollector> stats_;
  TrainingState state_;
  std::atomic<bool> stop_{false};
};

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_TRAINER_H_

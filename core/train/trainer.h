// The training job: data, network, loss, optimiser and the epoch loop of
// ALGORITHM.md §10, reporting through a MetricsSink and keeping the last and best
// checkpoints.
//
// One Trainer runs on one thread. RequestStop() may be called from any thread (a
// signal handler too: it only sets an atomic flag); training then stops at the next
// batch boundary, of the training pass or of the test pass, and Run() saves the state
// after the last finished batch into the last checkpoint before returning CANCELLED.
//
// Crash-exact resume (issue 17): a run resumed from a checkpoint written between two
// batches (epoch_progress.h) continues with the next batch and computes what the
// uninterrupted run computes, bit for bit: the same epoch records (but their wall
// times), the same record numbers (metrics.h), and at the end the same checkpoint
// files byte for byte. It needs the same data, --data-limit, --batch-size, backend and
// --progress-every as the interrupted run; the first two are checked.
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
#include "core/dist/communicator.h"
#include "core/io/safetensors.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/train/checkpoint.h"
#include "core/train/checkpoint_names.h"
#include "core/train/data_parallel.h"
#include "core/train/gradient_flow.h"
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
  // Batches between progress records of the training pass and of the test pass (each
  // pass's last batch too; 0: never).
  int64_t progress_every = config::kDefaultProgressEvery;
  std::string init_weights;      // safetensors with net.* keys: skip the bisection
  std::string resume_from;       // a checkpoint file to continue from
  bool keep_checkpoints = true;  // false: write none (e.g. --inspect-step)
  // Training batches between checkpoints written for a resume (0: none): the last
  // checkpoint is rewritten after every checkpoint_every-th batch of an epoch, so that
  // a kill -9 loses at most that many batches. These are no CheckpointRecords; a line
  // on stderr says each.
  int64_t checkpoint_every = 0;
  // Data parallel (issue 18; data_parallel.h): this process is one of comm->size()
  // ranks training the run together (not owned; null: one process). Every rank makes
  // the same Trainer calls; rank 0 alone initialises (then broadcasts), writes
  // checkpoints and feeds `sink` (give the others a null sink).
  dist::Communicator* comm = nullptr;
  // Steps between the checks that every rank holds the same parameters (0: only after
  // the initialisation and at epoch ends).
  int64_t sync_check_every = 100;
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
  // resume_from (weights, optimiser, RNG, epoch, and the epoch's progress when the
  // checkpoint was written mid-epoch), else from init_weights, else by the §7 bisection
  // on the first batch_size training samples with the training transform. `sink` (not
  // owned) may be null. Errors: those of the data, checkpoint and backend;
  // INVALID_ARGUMENT naming the checkpoint and the entry when a mid-epoch checkpoint
  // does not fit this run (another number of batches per epoch, of samples, of layers).
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(config::Config config,
                                                         kernels::Backend* backend,
                                                         TrainerOptions options,
                                                         MetricsSink* sink);

  // Trains the remaining epochs (train, test, checkpoints), from the checkpoint's next
  // batch when resumed mid-epoch. CANCELLED when stopped (the last checkpoint then
  // holds the state after the last finished batch).
  absl::Status Run();

  // One pass over the test split, without progress records. CANCELLED when a stop is
  // requested between two of its batches.
  absl::StatusOr<EvalResult> Evaluate();

  // One training step on the first batch_size training samples in file order, no
  // augmentation, dropout off, labels injected, no clipping and no optimiser step.
  // Returns `loss` [1], `inputs` (the network's input x, [T,B,...]), `outputs` [T,B,N]
  // (after injection), `outputs_raw`, and
  // `net.{i}.{weight,norm_weight,norm_bias}.grad` (§ the reference fixture's layout).
  absl::StatusOr<SafeTensors> InspectStep();

  // The gradient-flow report (ALGORITHM.md §14) of batch `batch` (0-based) of the
  // training split in file order, run as InspectStep runs its step: no augmentation,
  // dropout off, labels injected, no clipping, no optimiser step, nothing written.
  // INVALID_ARGUMENT naming --gradient-flow-batch when the split has no such batch;
  // FAILED_PRECONDITION as one of several ranks.
  absl::StatusOr<GradientFlowReport> GradientFlow(int64_t batch);

  void RequestStop() { stop_.store(true); }
  Network& network() { return *net_; }
  const config::Config& config() const { return config_; }
  // Where the run stands: epochs completed (from the checkpoint when resumed) and the
  // run's epochs.
  const TrainingState& state() const { return state_; }
  int64_t epochs_done() const { return state_.epoch; }
  // Data parallel: the gradient all-reduces so far (null for one process).
  const GradientSync* gradient_sync() const { return sync_.get(); }

 private:
  Trainer(config::Config config, TrainerOptions options, MetricsSink* sink)
      : config_(std::move(config)), options_(std::move(options)), sink_(sink) {}

  // x [T, B, C, H, W] (static images repeated t_train times; frame sequences
  // transposed from [B, T, ...], T = their frames, §6) and labels [B]. Returns whether
  // x is one step repeated over time (the static encoding), which the network's first
  // layer is told (ForwardOptions::input_repeats) on every backend.
  absl::StatusOr<bool> MakeInputs(const data::Batch& batch, Tensor& x, Tensor& y);
  // Trains epoch `epoch` from the start, or from state_.progress (which it consumes)
  // when that is set; `progress` is where the epoch stands after its last finished
  // batch, also when CANCELLED.
  absl::Status TrainEpoch(int64_t epoch, double lr, EpochMetrics& m,
                          EpochProgress& progress);
  // Evaluate() of epoch `epoch`'s test pass, which reports progress records (phase
  // test) as the training pass does; epoch 0: none.
  absl::StatusOr<EvalResult> TestPass(int64_t epoch);
  // The epoch-end checkpoints (last, and best when m.best), with their records.
  absl::Status SaveCheckpoints(const EpochMetrics& m);
  // The last checkpoint with `progress` of epoch state_.epoch + 1, for a resume: no
  // record, a line on stderr.
  absl::Status SaveResumeCheckpoint(const EpochProgress& progress);
  int64_t NumTrainBatches() const;
  // §11: DVS128 Gesture's training transform keeps t_train of a sample's n_steps frames
  // (LoaderOptions::frames_kept for the training loaders; 0 for every other data set).
  bool DeletesFrames() const;
  int64_t TrainingFramesKept() const;
  // The rank 0 initialisation of Create (resume, --init-weights or §7 bisection) and
  // its broadcast to the other ranks.
  absl::Status Initialize();
  // Whether any rank was asked to stop (collective with more than one rank).
  absl::StatusOr<bool> StopRequested();
  // The layer sums so far, over every rank (collective).
  absl::StatusOr<std::vector<LayerAccumulators>> ExportLayerSums();
  // Rank 0's dropout generator to every rank (collective).
  absl::Status SyncRng();
  bool is_root() const { return comm_->rank() == 0; }

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
  dist::LocalCommunicator local_comm_;
  dist::Communicator* comm_ = &local_comm_;  // options_.comm or local_comm_
  std::unique_ptr<GradientSync> sync_;       // more than one rank
  int64_t steps_ = 0;                        // optimiser steps of this process
};

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_TRAINER_H_

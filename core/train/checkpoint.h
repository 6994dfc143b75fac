// Checkpoints as safetensors files (core/io/safetensors.h).
//
// Layout of a checkpoint written by SaveCheckpoint:
//   net.{i}.weight, net.{i}.norm_weight, net.{i}.norm_bias   the parameters under the
//       reference's state_dict keys and shapes (conv g, b [C,1,1,1], linear [C,1]), so
//       a PyTorch model of the reference loads them directly; a network shaped like the
//       reference's SpikingResNet uses that model's keys instead (conv1.*,
//       layer{s}.{b}.{conv1|conv2|downsample}.*, fc.*: reference_names.h), and loading
//       accepts either;
//   optimizer.exp_avg.<param>, optimizer.exp_avg_sq.<param>  Adam/AdamW moments;
//   epoch_spike_counts.{k}   only mid-epoch: EpochProgress::layers[k].spike_counts, 1-D;
//   __metadata__: "format" = "edbp-checkpoint-1", "epoch", "optimizer_step",
//       "optimizer" (SGD|Adam|AdamW, or "none" with optimizer_step "0" for a
//       weights-only file), "best_test_accuracy" (%.17g: round-trips the double),
//       "best_epoch", "seed", "network_rng" (the dropout generator's state, as
//       operator<< writes it), "config" (TrainingState::config_text), "epochs" (the
//       run's effective epochs; absent in files written before it was stored),
//       "records" (TrainingState::records; absent when 0, and in files written before
//       it was stored: then 0);
//     only in a checkpoint written between two batches of an epoch (a stop request,
//       --checkpoint-every; epoch_progress.h), the EpochProgress of epoch "epoch" + 1:
//       "epoch_batch", "epoch_batches", "epoch_loss_total" (%.17g), "epoch_correct",
//       "epoch_seen", "epoch_layer_sums" (per layer, ';'-separated, the 10
//       space-separated numbers spikes_seen_steps grad_sum_in grad_sum_out
//       backward_batches grad_norm grad_mean grad_max_abs grad_batches update_ratio
//       updates, doubles as %.17g). A checkpoint without "epoch_batch" (every file
//       written at an epoch's end, and those of older versions) resumes with the next
//       epoch from its start.
// Nothing in a checkpoint depends on the time: the same training state gives the same
// bytes.
// Writes are atomic (temp file + fsync + rename): a crash leaves the old file intact.
#ifndef EDBP_CORE_TRAIN_CHECKPOINT_H_
#define EDBP_CORE_TRAIN_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/train/epoch_progress.h"

namespace edbp::train {

// What a checkpoint records besides tensors.
struct TrainingState {
  int64_t epoch = 0;  // epochs completed
  // The run's effective epochs (the config's, or --epochs): its cosine schedule (§10)
  // and where it ends. 0 in checkpoints written before it was stored.
  int64_t epochs = 0;
  double best_test_accuracy = -1;  // -1: no test yet
  int64_t best_epoch = 0;
  uint64_t seed = 0;        // the run's --seed
  std::string config_text;  // the YAML the run was started with
  // Records the run has sent to its MetricsSink (the last one's `record`, metrics.h);
  // at an epoch's end it counts that epoch's checkpoint records too.
  int64_t records = 0;
  // Set when the checkpoint was written between two batches of epoch `epoch` + 1.
  std::optional<EpochProgress> progress;
};

// Removes what an interrupted checkpoint write leaves in the run directory `dir`: the
// temporary files <checkpoint name>.tmp.XXXXXX of WriteSafeTensors (a kill -9 between
// their creation and the rename). Only those names, only in `dir`; a missing `dir` is
// no error. Returns the paths removed.
std::vector<std::string> RemoveStaleCheckpointTemps(const std::string& dir);

// Writes `net`'s parameters, `optimizer`'s state (may be null: weights only), the
// network's RNG state and `state` to `path` atomically. Errors: those of the copies
// and of the write, naming the path.
absl::Status SaveCheckpoint(const std::string& path, Network& net,
                            const Optimizer* optimizer, const TrainingState& state);

// Restores parameters, optimizer state (when `optimizer` is non-null; a null one
// ignores the file's moments) and the network RNG from a file written by
// SaveCheckpoint, and returns its TrainingState. Everything is validated before
// anything is copied. Errors (nothing in `net` or `optimizer` changes then): those of
// ReadSafeTensors; INVALID_ARGUMENT naming the file and the key for a missing tensor, a
// shape mismatch ("net.4.weight: the checkpoint has [300,640], the network
// [1024,3136]"), a parameter key the network lacks (as LoadWeights), a missing or
// malformed metadata entry (out of range too: an "epoch_batch" above "epoch_batches",
// an "epoch_correct" above "epoch_seen", a count in "epoch_layer_sums" above
// "epoch_batch", an epoch in progress beyond "epochs"; the message names the entry),
// or a different optimizer kind (a weights-only file into a non-null optimizer
// included). The EpochProgress is checked against the file alone: whether it fits the
// run's data and network is the trainer's to check. Only a failing host-to-device copy,
// after the validation, can leave the state partly restored.
absl::StatusOr<TrainingState> LoadCheckpoint(const std::string& path, Network& net,
                                             Optimizer* optimizer);

// --init-weights: loads only the net.* tensors of any safetensors file with the
// reference's keys (an edbp checkpoint, the reference fixture, a PyTorch export).
// Every parameter must be present with its shape; a parameter key the network lacks
// (net.{i}.weight|norm_weight|norm_bias: another architecture) is an error too. Other
// keys (optimizer.*, the fixture's net.{i}.*.grad, inputs) and the metadata are
// ignored; the network RNG is left as it is. Errors as LoadCheckpoint; nothing
// changes on error.
absl::Status LoadWeights(const std::string& path, Network& net);

// Whether LoadWeights(path, net) would succeed for a network built from `config`,
// without a network of the caller's: runs it into one built on the CPU for the check
// and dropped after.
// edbp-server checks a job's init_from with it at submission, so that a checkpoint
// that does not fit is refused then instead of failing the job at its start. Errors as
// LoadWeights, and those of building the network.
absl::Status CheckWeightsFit(const std::string& path, const config::Config& config);

// LoadCheckpoint and LoadWeights on contents read before (by another rank of a
// data-parallel run, issue 18); `path` names them in errors.
absl::StatusOr<TrainingState> RestoreCheckpoint(const std::string& path,
                                                const SafeTensors& file, Network& net,
                                                Optimizer* optimizer);
absl::Status RestoreWeights(const std::string& path, const SafeTensors& file,
                            Network& net);

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_CHECKPOINT_H_

// Data-parallel training (issue 18): what W ranks exchange so that they compute what
// one process computes with the config's batch.
//
// The rules (docs/ALGORITHM.md §10 holds for the whole batch; this file splits it):
// - Network.batch_size is the global batch; every rank loads every global batch with
//   the same seed (the same order, the same augmentation draws, dropout masks drawn for
//   the whole batch) and keeps its slice (SliceOf), so W=1 and W=2 see the same samples
//   with the same randomness.
// - After each backward, the parameter gradients and the step's counts are summed over
//   ranks (GradientSync) before global-norm clipping and the optimiser step, which every
//   rank then takes alike. The losses are sums over the batch (count, kernel) or carry
//   the whole batch's 1/(T·B) (TET, Loss::set_mean_batch), so the sum is the batch's
//   gradient.
// - The epoch's per-layer sums over samples are summed over ranks (ReduceLayerSums),
//   the per-step gradient statistics, equal on every rank, are kept.
// - Initial weights (bisection, --init-weights, --resume) come from rank 0
//   (BroadcastParameters, BroadcastContents); ParametersAgree compares a checksum.
#ifndef EDBP_CORE_TRAIN_DATA_PARALLEL_H_
#define EDBP_CORE_TRAIN_DATA_PARALLEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/data/loader.h"
#include "core/dist/communicator.h"
#include "core/io/safetensors.h"
#include "core/parameter.h"
#include "core/tensor.h"
#include "core/train/epoch_progress.h"

namespace edbp::train {

// Samples [begin, end) of a batch.
struct BatchSlice {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

// Rank `rank` of `ranks`' share of a batch of `n` samples: contiguous, in rank order,
// sizes n / ranks, the first n % ranks ranks one more (a short last batch may leave a
// rank none).
BatchSlice SliceOf(int64_t n, int rank, int ranks);

// The samples of `slice` of `batch` (images, labels, indices), frames as the batch's.
data::Batch TakeSlice(const data::Batch& batch, BatchSlice slice);

// Sums the parameters' gradients and a few per-step numbers over the ranks, as one
// flat float buffer in the backend's memory (Communicator::AllReduceSumOnDevice: on
// the device with NCCL, else through the host) and one small double buffer per step.
// Time and bytes are counted for the benchmark.
class GradientSync {
 public:
  // `comm` (not owned) must outlive it.
  GradientSync(dist::Communicator* comm, std::vector<Parameter> params);

  // grad ← Σ_ranks grad for every parameter, and scalars[i] ← Σ_ranks scalars[i].
  // Errors: the communicator's and the backend's copies.
  absl::Status AllReduce(std::span<double> scalars);

  // Sets every parameter's gradient to zero: what a rank without samples in a batch
  // adds (allocated where a gradient was never made).
  absl::Status ZeroGradients();

  int64_t bytes_per_step() const;  // of the float buffer
  double seconds() const { return seconds_; }
  int64_t steps() const { return steps_; }

 private:
  dist::Communicator* const comm_;
  std::vector<Parameter> params_;
  int64_t numel_ = 0;  // of every gradient
  Tensor flat_;        // [numel_] on the parameters' backend, from the first step
  double seconds_ = 0;
  int64_t steps_ = 0;
};

// The sums over samples of a layer's statistics (spike counts, samples·steps seen, the
// event gradients' sums) summed over ranks; the rest (batch counts, dL/dW and ΔW
// statistics, equal on every rank, or higher on ranks that had samples) their maximum.
absl::Status ReduceLayerSums(dist::Communicator& comm,
                             std::vector<LayerAccumulators>& layers);
// What a rank other than 0 imports from a mid-epoch checkpoint's sums: the sums over
// samples are rank 0's alone, so they are zeroed; the rest kept.
std::vector<LayerAccumulators> ZeroSampleSums(std::vector<LayerAccumulators> layers);

// Every parameter's value from rank `root` to the others.
absl::Status BroadcastParameters(dist::Communicator& comm, std::span<Parameter> params,
                                 int root);

// `contents` of rank `root` (a checkpoint it read) into every rank's `contents`.
// Errors: the communicator's; DATA_LOSS when what arrived does not parse (a bug or a
// broken transport, never the file: rank 0 parsed it).
absl::Status BroadcastContents(dist::Communicator& comm, SafeTensors& contents, int root);

// FNV-1a of the parameters' names, shapes and values, in order.
absl::StatusOr<uint64_t> ParameterChecksum(std::span<const Parameter> params);

// OK when every rank's parameters have the same checksum; INTERNAL naming `when` and
// the checksums' range otherwise (the ranks drifted apart: the run is wrong).
absl::Status ParametersAgree(dist::Communicator& comm, std::span<const Parameter> params,
                             const std::string& when);

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_DATA_PARALLEL_H_

// What a training run reports, and the interface it reports through.
//
// The trainer calls a MetricsSink from its own thread, in order: progress records
// during an epoch, then the epoch's metrics, then its checkpoints. edbp-train prints
// them and writes JSON lines; edbp-server (later) streams them to watchers.
//
// Record numbers (issue 17): every ProgressRecord, EpochMetrics and CheckpointRecord
// carries `record`, its 1-based position in the run's stream of sink records (the three
// kinds share one counter; records a run without a sink would have sent are counted
// too). A resumed run continues the numbering from its checkpoint
// (TrainingState::records), so that
//   - a record sent again after a crash (the progress records between the last
//     checkpoint and a kill -9) carries the number it had the first time: a consumer
//     keeps the first record of each number and drops the repeats;
//   - the records of a run stopped and resumed carry exactly the numbers of the
//     uninterrupted run's, given the same options (--progress-every included).
// Only the epoch-end checkpoints ("last", "best") are records: the checkpoints written
// for a resume (a stop request, --checkpoint-every) are not, as an uninterrupted run
// would not write them.
#ifndef EDBP_CORE_TRAIN_METRICS_H_
#define EDBP_CORE_TRAIN_METRICS_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace edbp::train {

// Per conv/linear layer, over one epoch's training batches.
struct LayerStats {
  std::string name;   // the YAML name, e.g. "conv_2"
  int64_t index = 0;  // i of net.{i} (pooling and dropout counted)
  // dL/dW (before clipping): L2 norm and mean averaged over the epoch's batches, and
  // the largest |·| seen.
  double grad_norm = 0;
  double grad_mean = 0;
  double grad_max_abs = 0;
  // The paper's invariant, per batch averaged over the epoch: Σ dL/dt entering the
  // layer's neurons (Σ dL/do ⊙ o) and Σ dL/dx leaving it downwards (including the
  // 0.85 factor, §5; 0 for the first layer, which passes nothing down).
  double grad_sum_in = 0;
  double grad_sum_out = 0;
  // Spikes per neuron per time step over the epoch (raw outputs, before injection),
  // and the fraction of the layer's neurons (per-sample units: C·H·W or N) that never
  // spiked for any sample of the epoch.
  double firing_rate = 0;
  double silent_fraction = 0;
  // ‖W‖ after the epoch, and ‖ΔW‖/‖W‖ of an optimizer step averaged over the epoch.
  double weight_norm = 0;
  double update_ratio = 0;
};

struct EpochMetrics {
  int64_t record = 0;         // position in the run's records (above)
  int64_t epoch = 0;          // 1-based
  int64_t epochs = 0;         // of the run
  double train_loss = 0;      // mean loss per training sample (§8, with injection)
  double train_accuracy = 0;  // from the raw outputs (§9), in [0, 1]
  double test_loss = 0;       // mean count/kernel/TET loss per test sample (no injection)
  double test_accuracy = 0;
  double learning_rate = 0;  // of the weights, this epoch (§10)
  double seconds = 0;        // wall time of train + test (in this process, if resumed)
  double train_samples_per_second = 0;
  double test_samples_per_second = 0;
  int64_t train_samples = 0;
  int64_t test_samples = 0;
  int64_t n_class = 0;
  std::vector<int64_t> confusion;  // n_class × n_class, row = label, column = predicted
  std::vector<LayerStats> layers;  // conv/linear layers in order
  bool best = false;               // best test accuracy so far
};

// Which pass of an epoch a ProgressRecord is about.
enum class Phase {
  kTrain,  // the training pass
  kTest,   // the test pass that follows it
};

// "train" or "test".
const char* PhaseName(Phase phase);

// Every TrainerOptions::progress_every-th batch of a pass, and its last batch.
struct ProgressRecord {
  int64_t record = 0;  // position in the run's records (above)
  int64_t epoch = 0;
  int64_t batch = 0;            // batches of the pass done in this epoch
  int64_t batches = 0;          // of the pass
  double running_loss = 0;      // mean per sample so far in this pass
  double running_accuracy = 0;  // so far in this pass (training: before injection)
  double samples_per_second = 0;
  double eta_seconds = 0;  // to the end of this pass
  Phase phase = Phase::kTrain;
  int64_t epochs = 0;  // of the run
};

struct CheckpointRecord {
  int64_t record = 0;  // position in the run's records (above)
  int64_t epoch = 0;
  std::string kind;  // "last" or "best"
  std::string path;
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void OnProgress(const ProgressRecord& /*record*/) {}
  virtual void OnEpoch(const EpochMetrics& /*metrics*/) {}
  virtual void OnCheckpoint(const CheckpointRecord& /*record*/) {}
};

// Forwards every record to each sink in order. Sinks are not owned.
class MultiSink final : public MetricsSink {
 public:
  explicit MultiSink(std::vector<MetricsSink*> sinks) : sinks_(std::move(sinks)) {}
  void OnProgress(const ProgressRecord& r) override;
  void OnEpoch(const EpochMetrics& m) override;
  void OnCheckpoint(const CheckpointRecord& r) override;

 private:
  std::vector<MetricsSink*> sinks_;
};

// Appends one JSON object per record to a file ({"type":"epoch","record":N,...},
// {"type":"progress",...}, {"type":"checkpoint",...}), flushed after each line. An
// epoch's fields are the names of statistics.h (those of every other view: the API's
// messages, edbp-client --output json and its metrics export), then n_class,
// confusion, best and layers (each with name, index and the layer statistics).
class JsonlSink final : public MetricsSink {
 public:
  // Creates missing parent directories. Errors: PERMISSION_DENIED / NOT_FOUND naming
  // the path when it cannot be opened.
  static absl::StatusOr<std::unique_ptr<JsonlSink>> Open(const std::string& path);
  ~JsonlSink() override;
  void OnProgress(const ProgressRecord& r) override;
  void OnEpoch(const EpochMetrics& m) override;
  void OnCheckpoint(const CheckpointRecord& r) override;

 private:
  explicit JsonlSink(std::FILE* file) : file_(file) {}
  void Write(const std::string& line);
  std::FILE* file_;
};

// JSON text of one record (the lines JsonlSink writes).
std::string ToJson(const EpochMetrics& m);
std::string ToJson(const ProgressRecord& r);
std::string ToJson(const CheckpointRecord& r);

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_METRICS_H_

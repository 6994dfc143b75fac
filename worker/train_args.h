// edbp-train's command line: what it is asked to do, parsed once.
#ifndef EDBP_WORKER_TRAIN_ARGS_H_
#define EDBP_WORKER_TRAIN_ARGS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace edbp::worker {

// What edbp-train does with the config.
enum class TrainMode {
  kTrain,         // the epoch loop with checkpoints (the default)
  kValidate,      // --validate: check the config, print the network summary
  kEvaluate,      // --evaluate: the test set only, with --init-weights or --resume
  kInspect,       // --inspect-step FILE: one training step written to FILE
  kGradientFlow,  // --gradient-flow OUT: the gradient-flow report of one batch
  kExportNir,     // --export-nir FILE: the network and its weights as NIR (HDF5), no data
};

// Every flag and positional argument, as given (empty / 0: not given).
struct TrainArgs {
  TrainMode mode = TrainMode::kTrain;
  std::string config_path;  // CONFIG.yaml; empty with --resume: the checkpoint's config
  std::string resume_dir;   // --resume
  std::string out_dir;      // --out-dir
  int64_t epochs = 0;       // --epochs: overrides Network.epochs when > 0
  int64_t batch_size = 0;   // --batch-size: overrides Network.batch_size when > 0
  uint64_t seed = 0;
  bool seed_given = false;  // --seed was on the command line (it beats Network.seed)
  std::string init_weights;
  std::string metrics_jsonl;
  int64_t data_limit = 0;
  bool synthetic_data = false;
  std::string inspect_step;         // the file of kInspect
  std::string gradient_flow;        // OUT of kGradientFlow (OUT.json, OUT.html)
  int64_t gradient_flow_batch = 0;  // --gradient-flow-batch: which training batch
  std::string export_nir;           // the file of kExportNir
  int64_t progress_every = 20;
  bool progress_every_given = false;  // it beats Network.progress_every
  int64_t checkpoint_every = 0;  // --checkpoint-every: batches between resume checkpoints
  std::string report_to;         // --report-to: edbp-server's worker service
  std::string job_id;            // --job-id, required with --report-to
  int64_t attempt = 0;           // --attempt
  bool resume_if_present = false;   // --resume-if-present
  int64_t wait_for_previous = 0;    // --wait-for-previous, seconds
  int64_t check_ranks_every = 100;  // --check-ranks-every (data parallel)
  bool tensorboard = true;
  std::string tensorboard_dir;
};

// Parses argv with both flag spellings (--out-dir, --out_dir). Exits the process (0) for
// --help. Every usage error is INVALID_ARGUMENT with a one-line message starting
// "edbp-train: ", on which edbp-train exits 2: an unknown flag (with the closest of
// edbp-train's own, base/flag_spelling.h), `-config X` (the reference's main.py habit:
// the config is positional), a missing or malformed value, no config and no --resume,
// two configs, --report-to without --job-id, --evaluate or --export-nir without weights,
// a negative --checkpoint-every, a --progress-every outside [0, 1000000], --gradient-flow
// with another mode or with a flag that writes files.
absl::StatusOr<TrainArgs> ParseTrainArgs(int argc, char** argv);

}  // namespace edbp::worker

#endif  // EDBP_WORKER_TRAIN_ARGS_H_

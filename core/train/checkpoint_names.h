// The file names of a run's checkpoints in its directory (edbp-train's --out-dir, a job's
// directory under edbp-server's data dir): written by the trainer, resumed from by
// edbp-train --resume and edbp-server's scheduler, served by DownloadCheckpoint.
#ifndef EDBP_CORE_TRAIN_CHECKPOINT_NAMES_H_
#define EDBP_CORE_TRAIN_CHECKPOINT_NAMES_H_

namespace edbp::train {

// After every epoch (the run resumes from it).
inline constexpr char kLastCheckpoint[] = "checkpoint_last.safetensors";
// After the epoch with the best test accuracy so far.
inline constexpr char kBestCheckpoint[] = "checkpoint_best.safetensors";

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_CHECKPOINT_NAMES_H_

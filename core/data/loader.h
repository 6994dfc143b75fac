// Batches for one epoch, assembled in a background thread so the trainer never waits
// on data.
#ifndef EDBP_CORE_DATA_LOADER_H_
#define EDBP_CORE_DATA_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/transform.h"

namespace edbp::data {

struct Batch {
  int64_t size = 0;  // samples in this batch (the last may be smaller)
  // 0: static images, [size, C, H, W], normalised (and augmented), to be repeated over
  // time; > 0: [size, frames, C, H, W], one input per time step (Dataset::frames).
  int64_t frames = 0;
  std::vector<float> images;
  std::vector<int32_t> labels;   // [size]
  std::vector<int64_t> indices;  // dataset index of each sample
};

struct LoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;  // false: file order
  bool augment = false;  // apply the training transform (transform.h)
  // Decides the order (Fisher–Yates driven by std::mt19937_64(seed)) and the
  // augmentation draws (a second std::mt19937_64 seeded from a hash of `seed`, drawn
  // sample after sample in batch order).
  uint64_t seed = 0;
  int prefetch = 2;  // batches prepared ahead (>= 1)
  // With `augment`, for a data set whose training transform deletes frames (DVS128
  // Gesture, §11): the frames each sample keeps (0: all). Batch::frames says it.
  int64_t frames_kept = 0;
};

// Iterates `dataset` once. The order and every augmentation draw depend only on
// (dataset, options): the same seed gives the same batches, whatever the timing.
// `dataset` must outlive the loader. Next() is called from one thread.
class BatchLoader {
 public:
  // Starts the producer thread. batch_size and prefetch must be >= 1 (checked).
  BatchLoader(const Dataset& dataset, LoaderOptions options);
  ~BatchLoader();  // stops the producer and joins it, also mid-epoch
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch, blocking until it is ready; nullopt after the last one.
  std::optional<Batch> Next();
  int64_t num_batches() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_LOADER_H_

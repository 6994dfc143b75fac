// DVS128 Gesture and CIFAR10-DVS (issue 20): event files (aedat.h) turned into frames of
// event counts by the rule N-MNIST uses (nmnist.h IntegrateEventsByCount: n_steps frames
// of equal event count, ALGORITHM.md §6), 2 x 128 x 128 per frame.
//
// These samples are the sensor's full 128x128 frames, n_steps of them. DVS128 Gesture's
// training transform (crop, flip, temporal deletion to t_train frames) is applied when
// batches are made (transform.h, ALGORITHM.md §11); so are CIFAR10-DVS's (crop, 48x48
// resize, flip, NDA; the test frames resized, dvs_transform.h, §11.1).
//
// With a cache directory and no limit, the frames are kept in the frame cache
// (frame_cache.h), keyed by the data set, the folder, the split, n_steps and every
// source file's name, size and modification time: built once, read back after.
#ifndef EDBP_CORE_DATA_DVS_H_
#define EDBP_CORE_DATA_DVS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/aedat.h"
#include "core/data/dataset.h"
#include "core/data/frame_cache.h"

namespace edbp::data {

inline constexpr int64_t kDvsSide = 128;

// Frames of `events` (2 x 128 x 128, n_steps of them; nmnist.h's rule). Errors:
// DATA_LOSS naming the event's index when x or y is outside the 128x128 sensor.
absl::StatusOr<std::vector<FrameCount>> DvsFrames(std::span<const DvsEvent> events,
                                                  int64_t n_steps);

// The events of `all` with start <= t < end, in file order (the intervals of a labels
// file may overlap: an event can belong to two samples).
std::vector<DvsEvent> EventsIn(std::span<const DvsEvent> all, int64_t start, int64_t end);

// One split of DVS128 Gesture from the upstream DvsGesture/ folder `dir`:
// trials_to_<split>.txt lists the recordings (userNN_<lighting>.aedat, one per line),
// each with its userNN_<lighting>_labels.csv; every row of a labels file is one sample
// (its events in [start, end), label class - 1), in list order then row order. Named
// "DVS128Gesture/<split>", shape {2, 128, 128}, n_steps frames. `limit` > 0 keeps the
// first `limit` samples (and reads no further file). Errors: NOT_FOUND naming the
// folder, the list or a file; those of ReadAedat31, ReadGestureLabels and DvsFrames,
// prefixed with the file.
absl::StatusOr<Dataset> LoadDvsGestureSplit(const std::string& dir,
                                            const std::string& split, int64_t n_steps,
                                            const std::string& cache_dir, int64_t limit,
                                            FrameCacheReport* report = nullptr);

// CIFAR10-DVS from `dir`: the ten class folders airplane, automobile, bird, cat, deer,
// dog, frog, horse, ship, truck (labels 0-9 in that order) of .aedat files (AEDAT 2.0).
// There is no official split: of each class, in file-name order, the first
// ceil(0.9 n) files train and the rest test, as the reference's loader does
// (spikingjelly's split_to_train_test_set(0.9)). Events are
// flipped as those loaders flip them: x' = 127 - y, y' = 127 - x, polarity' =
// 1 - polarity. Named "CIFAR10DVS/train" and "/test". `limit` > 0 keeps the first
// `limit` samples of each split. Errors: NOT_FOUND naming a missing class folder or an
// empty one; those of ReadAedat20 and DvsFrames, prefixed with the file.
absl::StatusOr<DataSplits> LoadCifar10Dvs(const std::string& dir, int64_t n_steps,
                                          const std::string& cache_dir, int64_t limit,
                                          FrameCacheReport* report = nullptr);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_DVS_H_

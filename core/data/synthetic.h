// Synthetic data of a config's shape: for data sets that are not installed (tests,
// benchmarks, `edbp-train --synthetic-data`) and for `dataset: Synthetic`.
#ifndef EDBP_CORE_DATA_SYNTHETIC_H_
#define EDBP_CORE_DATA_SYNTHETIC_H_

#include <cstdint>
#include <string>

#include "core/config/config.h"
#include "core/data/dataset.h"

namespace edbp::data {

// Labels uniform in [0, n_class) and samples of `shape`, the same for the same seed.
// The splits are named "<dataset>/train" and "<dataset>/test", so the data set's
// normalisation and training augmentation apply as to real samples. With `frames` == 0:
// static images of uniform random u8 pixels. With `frames` > 0 and an event data set
// (config::IsEventDataset): event frames, each frame integrating the same number of
// events (§6: max(1, C·H·W / 20), at uniform random pixels, so counts may exceed 1).
// With `frames` > 0 otherwise (SMNIST): dense sequences of uniform random u8 pixels.
DataSplits MakeSyntheticSplits(const std::string& dataset,
                               const config::SampleShape& shape, int64_t n_class,
                               int64_t train_size, int64_t test_size, uint64_t seed,
                               int64_t frames = 0);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_SYNTHETIC_H_

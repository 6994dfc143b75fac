// Synthetic data of a config's shape: for data sets that are not installed (tests,
// benchmarks, `edbp-train --synthetic-data`) and for `dataset: Synthetic`.
#ifndef EDBP_CORE_DATA_SYNTHETIC_H_
#define EDBP_CORE_DATA_SYNTHETIC_H_

#include <cstdint>
#include <string>

#include "core/config/config.h"
#include "core/data/dataset.h"

namespace edbp::data {

// Uniform random u8 pixels of `shape` and labels uniform in [0, n_class), the same for
// the same seed. The splits are named "<dataset>/train" and "<dataset>/test", so the
// data set's normalisation and training augmentation apply as to real samples.
DataSplits MakeSyntheticSplits(const std::string& dataset, const config::SampleShape& shape,
                               int64_t n_class, int64_t train_size, int64_t test_size,
                               uint64_t seed);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_SYNTHETIC_H_

// CIFAR-10 and CIFAR-100 in their binary distribution format (ALGORITHM.md §11).
//
// CIFAR-10: data_batch_1.bin … data_batch_5.bin (train) and test_batch.bin; each
// record is 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32×32
// row-major). CIFAR-100: train.bin and test.bin; each record is 1 coarse label byte,
// 1 fine label byte, then the 3072 pixels. edbp uses the fine label (100 classes).
#ifndef EDBP_CORE_DATA_CIFAR_H_
#define EDBP_CORE_DATA_CIFAR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"

namespace edbp::data {

enum class CifarVariant {
  kCifar10,   // label byte + pixels; 10 classes
  kCifar100,  // coarse label byte + fine label byte + pixels; 100 fine classes
};

// Reads the records of `paths` in order into one data set of shape {3, 32, 32} (pixels
// CHW as in the files), named after the first path. `limit` > 0 keeps only the first
// `limit` samples (every file is still read and checked). Errors name the file:
// NOT_FOUND when it cannot be opened or is not a regular file (a FIFO, a device);
// DATA_LOSS when its size is not a positive multiple of the record size ("expected a
// multiple of 3073 bytes, got 1000", checked before any is read) or a label is out of
// range ("record 1: label 255 out of range (10 classes)"). Memory: the pixels kept,
// allocated once, and one 3 MB piece of a file.
absl::StatusOr<Dataset> ReadCifar(CifarVariant variant,
                                  const std::vector<std::string>& paths,
                                  int64_t limit = 0);

// The train and test splits from `dir`, named "CIFAR10/train", "CIFAR10/test" (or
// CIFAR100/…). Each file is looked for directly in `dir`, then in the archive's
// folder (cifar-10-batches-bin/, cifar-100-binary/); NOT_FOUND lists both paths.
// `limit` as in ReadCifar, per split.
absl::StatusOr<DataSplits> LoadCifarSplits(CifarVariant variant, const std::string& dir,
                                           int64_t limit = 0);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_CIFAR_H_

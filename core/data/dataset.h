// Data sets in memory and the files they come from (ALGORITHM.md §6, §11).
//
// A Dataset holds raw samples (u8 pixels as stored in the files) and labels; the
// float conversion, normalisation and augmentation happen per sample when batches are
// made (transform.h, loader.h). Immutable after loading: safe to share across threads.
#ifndef EDBP_CORE_DATA_DATASET_H_
#define EDBP_CORE_DATA_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"

namespace edbp::data {

struct Dataset {
  // "<data set>/<split>", e.g. "FashionMNIST/train": for messages, and the part before
  // '/' selects the training transform (transform.h). ReadIdx sets the images path.
  std::string name;
  config::SampleShape shape;    // per sample {C, H, W}
  int64_t size = 0;             // number of samples
  std::vector<uint8_t> pixels;  // size × C·H·W, sample-major, as in the files
  std::vector<int32_t> labels;  // size

  int64_t sample_numel() const;
};

struct DataSplits {
  Dataset train;
  Dataset test;
};

// Reads an IDX image file (magic 0x00000803, dims N×H×W, u8) and its IDX label file
// (magic 0x00000801, N, u8), each gzip-compressed or raw (detected from the content,
// not the name). The result has shape {1, H, W} and name `images_path`. `limit` > 0
// keeps only the first `limit` samples (the whole files are still read and checked).
// Errors name the file: NOT_FOUND when it cannot be opened; DATA_LOSS for a wrong
// magic, a file shorter or longer than its header announces ("expected 47040016 bytes
// (60000 images of 28x28 + 16-byte header), got 1000"), corrupt gzip, or image/label
// counts that differ.
absl::StatusOr<Dataset> ReadIdx(const std::string& images_path,
                                const std::string& labels_path, int64_t limit = 0);

// The train and test splits of `network.dataset` from `network.data_path` (empty: the
// data set's standard location, /usr/share/datasets/fashion-mnist for FashionMNIST,
// /usr/share/datasets/mnist for MNIST), named "<dataset>/train" and "<dataset>/test".
// MNIST and FashionMNIST read train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (the .gz name first).
// CIFAR10 / CIFAR100 read the binary batches (core/data/cifar.h; default dirs
// /usr/share/datasets/cifar10 and /usr/share/datasets/cifar100).
// `limit` > 0 keeps the first `limit` samples of each split. Errors: as ReadIdx /
// ReadCifar; NOT_FOUND listing the paths tried; DATA_LOSS when the images are not the
// data set's size; UNIMPLEMENTED naming the data set for those whose loader is not
// written yet (NMNIST, Synthetic); INVALID_ARGUMENT for unknown names.
absl::StatusOr<DataSplits> LoadDataSplits(const config::NetworkConfig& network,
                                          int64_t limit = 0);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_DATASET_H_

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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/config/config.h"

namespace edbp::data {

// One non-zero pixel of an event sample's frames: `index` into the sample's
// [frames, C, H, W] block, `count` the events integrated there (ALGORITHM.md §6).
struct FrameCount {
  uint32_t index = 0;
  uint32_t count = 0;
  bool operator==(const FrameCount&) const = default;
};

// A sample is one of three kinds, fixed per data set:
//  - a static image (`frames` == 0): `pixels` holds size × C·H·W u8 values; the
//    trainer repeats the image over the time steps (§6);
//  - a dense sequence (`frames` > 0, `frame_offsets` empty; SMNIST): `pixels` holds
//    size × frames × C·H·W u8 values, frame t being the input at step t;
//  - event frames (`frames` > 0, `frame_offsets` non-empty; NMNIST): counts of events,
//    stored sparse: sample i's non-zero pixels are frame_counts[frame_offsets[i] ..
//    frame_offsets[i + 1]), indices increasing; `pixels` is empty.
struct Dataset {
  // "<data set>/<split>", e.g. "FashionMNIST/train": for messages, and the part before
  // '/' selects the training transform (transform.h). ReadIdx sets the images path.
  std::string name;
  config::SampleShape shape;             // per frame {C, H, W}
  int64_t size = 0;                      // number of samples
  int64_t frames = 0;                    // time steps per sample; 0 for static images
  std::vector<uint8_t> pixels;           // static / dense kinds, sample-major, as above
  std::vector<int32_t> labels;           // size
  std::vector<uint64_t> frame_offsets;   // event kind: size + 1 entries, else empty
  std::vector<FrameCount> frame_counts;  // event kind: the non-zero counts

  int64_t sample_numel() const;  // C·H·W: the numbers of one frame / static image
  // Floats one sample becomes: sample_numel() × max(frames, 1).
  int64_t sample_floats() const;
  bool is_events() const { return !frame_offsets.empty(); }
};

struct DataSplits {
  Dataset train;
  Dataset test;
};

// Reads an IDX image file (magic 0x00000803, dims N×H×W, u8) and its IDX label file
// (magic 0x00000801, N, u8), each gzip-compressed or raw (detected from the content,
// not the name). The result has shape {1, H, W} and name `images_path`. `limit` > 0
// keeps only the first `limit` samples (the whole files are still read and checked).
// Errors name the file: NOT_FOUND when it cannot be opened or is not a regular file (a
// FIFO, a device); DATA_LOSS for a wrong magic, a file shorter or longer than its
// header announces ("expected 47040016 bytes (60000 images of 28x28 + 16-byte header),
// got 1000"; a raw file is sized before its payload is read, a gzip file that could
// not inflate to the size announced is refused before it is read), corrupt gzip, or
// image/label counts that differ. Memory: a raw file's kept pixels, allocated once; a
// gzip file's as they arrive, in pieces of 16 MiB.
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
// written yet (Synthetic); INVALID_ARGUMENT for unknown names.
// SMNIST reads the MNIST files (same names, default /usr/share/datasets/mnist) and
// makes each image a sequence of its 28 columns (SequenceOfColumns).
// NMNIST reads `<data_path>/Train` and `<data_path>/Test` (core/data/nmnist.h) into
// `network.n_steps` frames per sample, through the frame cache in
// `network.cache_path` (default `<data_path>/edbp_frame_cache`).
absl::StatusOr<DataSplits> LoadDataSplits(const config::NetworkConfig& network,
                                          int64_t limit = 0);

// Whether the files LoadDataSplits reads for `network` are there, without reading them:
// edbp-server's check at submit (a job that would fail on its first read is refused
// instead). The directory is network.data_path, else the data set's default (as
// LoadDataSplits); it must be a directory holding, for MNIST, FashionMNIST and SMNIST,
// the four IDX files (each raw or .gz); for CIFAR10 data_batch_1..5.bin and
// test_batch.bin, for CIFAR100 train.bin and test.bin (there or in the archive's
// folder); for NMNIST Train/ and Test/, each with the class folders 0..9; for
// DVS128Gesture trials_to_train.txt and trials_to_test.txt; for CIFAR10DVS the ten class
// folders airplane .. truck. Synthetic reads nothing. INVALID_ARGUMENT otherwise,
// naming Network.data_path, the directory and the first thing missing, e.g.
// `Network.data_path: "/data/mnist" holds no t10k-labels-idx1-ubyte[.gz] (MNIST reads
// ...)`. Whether the files hold what they should is the loaders' to say, at run time.
absl::Status CheckDataFiles(const config::NetworkConfig& network);

// Time steps per sample of `network.dataset`: n_steps for event data sets (§6: the
// recording is split into n_steps frames) and for sequence data sets (SMNIST, whose
// n_steps the config fixes at 28); 0 for static images.
int64_t FramesPerSample(const config::NetworkConfig& network);

// SMNIST (the reference's datasets/loadSMNIST.py): static {1, H, W} images become
// dense sequences of W frames of shape {1, H, 1}, frame t being column t (pixel
// (y, t) of the image), named `name`.
Dataset SequenceOfColumns(const Dataset& images, const std::string& name);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_DATASET_H_

#include "core/data/transform.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "base/check.h"
#include "core/data/augment.h"
#include "core/data/dvs.h"
#include "core/data/dvs_transform.h"

namespace edbp::data {
namespace {

// "FashionMNIST/train" -> "FashionMNIST"; a bare name is returned as is.
std::string_view DatasetOf(std::string_view name) {
  return name.substr(0, name.find('/'));
}

}  // namespace

Normalization NormalizationFor(std::string_view dataset_name) {
  // §11. The constants are the reference's Python floats rounded to float32, as
  // torchvision's Normalize does.
  const std::string_view dataset = DatasetOf(dataset_name);
  if (dataset == "MNIST" || dataset == "FashionMNIST" || dataset == "SMNIST") {
    return {{0.1307f}, {0.3081f}};  // SMNIST: loadSMNIST.py normalises as MNIST
  }
  if (dataset == "CIFAR10" || dataset == "CIFAR100") {
    return {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
  }
  return {};  // N-MNIST and others: none (samples are then u8 / 255)
}

config::SampleShape InputShapeOf(const Dataset& ds) {
  if (DatasetOf(ds.name) == "CIFAR10DVS" && ds.shape.size() == 3) {
    return {ds.shape[0], kCifar10DvsInputSide, kCifar10DvsInputSide};
  }
  return ds.shape;
}

config::SampleShape StoredShapeFor(std::string_view dataset,
                                   const config::SampleShape& input) {
  if (DatasetOf(dataset) == "CIFAR10DVS" && input.size() == 3) {
    return {input[0], kDvsSide, kDvsSide};
  }
  return input;
}

void GestureTrainingFrames(const float* in, int64_t frames, int64_t channels,
                           int64_t height, int64_t width, int64_t kept,
                           std::mt19937_64& rng, float* out) {
  EDBP_CHECK(kept >= 1 && kept <= frames) << "kept " << kept << " of " << frames;
  // RandomResizedCrop's box (torchvision's get_params, scale (0.5, 1), ratio (3/4, 4/3)).
  const CropBox box = DrawResizedCropBox(height, width, 0.5, rng);
  const bool flip = (rng() >> 63) != 0;
  // RandomTemporalDelete: `kept` distinct frames, in order (a partial Fisher-Yates).
  std::vector<int64_t> order(static_cast<size_t>(frames));
  for (int64_t t = 0; t < frames; ++t) order[t] = t;
  for (int64_t k = 0; k < kept; ++k) {
    const int64_t pick = k + DrawBelow(rng, static_cast<int>(frames - k));
    std::swap(order[k], order[pick]);
  }
  std::sort(order.begin(), order.begin() + kept);
  // The kept frames' planes, each cropped, resized back by nearest neighbour, flipped.
  const int64_t plane = height * width;
  for (int64_t k = 0; k < kept; ++k) {
    CropResizeNearest(in + order[k] * channels * plane, channels, height, width, box,
                      height, width, flip, out + k * channels * plane);
  }
}

SampleMaker::SampleMaker(const Dataset& ds, const Normalization& norm,
                         int64_t frames_kept)
    : ds_(ds), frames_kept_(frames_kept) {
  EDBP_CHECK(ds.shape.size() == 3) << ds.name << ": images are {C, H, W}";
  const int64_t channels = ds.shape[0];
  const bool normalise = !norm.mean.empty();
  EDBP_CHECK(norm.mean.size() == norm.std.size() &&
             (!normalise || static_cast<int64_t>(norm.mean.size()) == channels))
      << "normalisation for " << norm.mean.size() << " channels, " << ds.name << " has "
      << channels;
  table_.resize(static_cast<size_t>(channels) * 256);
  for (int64_t c = 0; c < channels; ++c) {
    // torchvision ToTensor then Normalize, in float32 and in this order (§11). Without
    // normalisation (v - 0) / 1 == v exactly.
    const float mean = normalise ? norm.mean[c] : 0.0f;
    const float std = normalise ? norm.std[c] : 1.0f;
    for (int level = 0; level < 256; ++level) {
      const float v = static_cast<float>(level) / 255.0f;
      table_[c * 256 + level] = (v - mean) / std;
    }
  }
  // §11 training transforms: FashionMNIST flips; MNIST, N-MNIST, Synthetic: none.
  const std::string_view dataset = DatasetOf(ds.name);
  flips_ = dataset == "FashionMNIST";
  // CIFAR10: crop, flip, AutoAugment; CIFAR100: crop and flip (§11).
  crops_ = dataset == "CIFAR10" || dataset == "CIFAR100";
  auto_augment_ = dataset == "CIFAR10";
  // MNIST, N-MNIST, SMNIST (loadSMNIST.py) and Synthetic: no training transform.
  // DVS128 Gesture: crop, flip, temporal deletion (§11); CIFAR10-DVS: resize to 48x48,
  // and in training crop, flip and NDA (§11.1).
  gesture_ = dataset == "DVS128Gesture";
  cifar10_dvs_ = dataset == "CIFAR10DVS";
  EDBP_CHECK(!cifar10_dvs_ || ds.frames > 0) << ds.name << ": frames of events expected";
  output_numel_ = 1;
  for (int64_t d : InputShapeOf(ds)) output_numel_ *= d;
  EDBP_CHECK(frames_kept_ == 0 || (gesture_ && frames_kept_ <= ds.frames))
      << ds.name << ": keeps " << frames_kept_ << " of " << ds.frames
      << " frames; only DVS128 Gesture deletes frames";
  transform_known_ = flips_ || crops_ || dataset == "MNIST" || dataset == "NMNIST" ||
                     dataset == "SMNIST" || dataset == "Synthetic" ||
                     dataset == "DVS128Gesture" || dataset == "CIFAR10DVS";
  EDBP_CHECK(ds.frames == 0 || !(flips_ || crops_))
      << ds.name << ": image augmentation on a frame sequence is not written";
}

void SampleMaker::Make(int64_t index, bool augment, std::mt19937_64& rng,
                       float* out) const {
  EDBP_CHECK(index >= 0 && index < ds_.size) << index << " of " << ds_.size;
  bool flip = false;
  EDBP_CHECK(!augment || transform_known_)
      << "no training transform for data set \"" << ds_.name
      << "\" (written: MNIST, FashionMNIST, CIFAR10, CIFAR100; Dataset::name must "
         "start with the data set)";
  if (augment && flips_) {
    // One draw per sample, p = 1/2 exactly (the top bit), independent of the standard
    // library's distribution algorithms.
    flip = (rng() >> 63) != 0;
  }
  if (ds_.is_events()) {
    // §6, §11: event counts as they are (no normalisation), zero elsewhere; then the
    // data set's transform (CIFAR10-DVS's resize in the test pass too, §11.1).
    const bool transform = (augment && gesture_) || cifar10_dvs_;
    std::vector<float> frames;
    float* dense = out;
    if (transform) {
      frames.resize(static_cast<size_t>(ds_.sample_floats()));
      dense = frames.data();
    }
    std::fill(dense, dense + ds_.sample_floats(), 0.0f);
    const uint64_t end = ds_.frame_offsets[index + 1];
    for (uint64_t k = ds_.frame_offsets[index]; k < end; ++k) {
      const FrameCount& c = ds_.frame_counts[k];
      dense[c.index] = static_cast<float>(c.count);
    }
    if (cifar10_dvs_ && augment) {
      Cifar10DvsTrainingFrames(dense, ds_.frames, ds_.shape[0], ds_.shape[1],
                               ds_.shape[2], rng, out);
    } else if (cifar10_dvs_) {
      Cifar10DvsTestFrames(dense, ds_.frames, ds_.shape[0], ds_.shape[1], ds_.shape[2],
                           out);
    } else if (transform) {
      GestureTrainingFrames(dense, ds_.frames, ds_.shape[0], ds_.shape[1], ds_.shape[2],
                            output_frames(true), rng, out);
    }
    return;
  }
  if (ds_.frames > 0) {
    // A dense sequence (SMNIST): every frame normalised as a static image would be.
    const int64_t plane = ds_.shape[1] * ds_.shape[2];
    const uint8_t* src = ds_.pixels.data() + index * ds_.sample_floats();
    for (int64_t f = 0; f < ds_.frames; ++f) {
      for (int64_t c = 0; c < ds_.shape[0]; ++c) {
        const float* table = table_.data() + c * 256;
        for (int64_t k = 0; k < plane; ++k) out[k] = table[src[k]];
        src += plane;
        out += plane;
      }
    }
    return;
  }
  const int64_t channels = ds_.shape[0];
  const int64_t height = ds_.shape[1];
  const int64_t width = ds_.shape[2];
  const uint8_t* src = ds_.pixels.data() + index * ds_.sample_numel();
  ImageU8 image;  // the augmented u8 image (CIFAR), read instead of the data set's
  if (augment && crops_) {
    image = {static_cast<int>(channels), static_cast<int>(height),
             static_cast<int>(width),
             std::vector<uint8_t>(src, src + ds_.sample_numel())};
    // RandomCrop(32, padding=4), RandomHorizontalFlip, [AutoAugment] (§11).
    image = RandomPaddedCrop(image, /*padding=*/4, rng);
    if ((rng() >> 63) != 0) FlipHorizontal(image);
    if (auto_augment_) AutoAugmentImageNet(image, rng);
    src = image.pixels.data();
  }
  for (int64_t c = 0; c < channels; ++c) {
    const float* table = table_.data() + c * 256;
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* row = src + (c * height + y) * width;
      float* dst = out + (c * height + y) * width;
      if (flip) {  // RandomHorizontalFlip: mirror the W axis
        for (int64_t x = 0; x < width; ++x) dst[x] = table[row[width - 1 - x]];
      } else {
        for (int64_t x = 0; x < width; ++x) dst[x] = table[row[x]];
      }
    }
  }
}

void MakeSample(const Dataset& ds, const Normalization& norm, int64_t index, bool augment,
                std::mt19937_64& rng, float* out) {
  SampleMaker(ds, norm).Make(index, augment, rng, out);
}

}  // namespace edbp::data

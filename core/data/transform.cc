#include "core/data/transform.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "base/check.h"
#include "core/data/augment.h"

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

void GestureTrainingFrames(const float* in, int64_t frames, int64_t channels,
                           int64_t height, int64_t width, int64_t kept,
                           std::mt19937_64& rng, float* out) {
  EDBP_CHECK(kept >= 1 && kept <= frames) << "kept " << kept << " of " << frames;
  // RandomResizedCrop's box (torchvision's get_params, scale (0.5, 1), ratio (3/4, 4/3)).
  const double area = static_cast<double>(height * width);
  int64_t top = 0, left = 0, h = height, w = width;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (0.5 + 0.5 * DrawUnit(rng));
    const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * DrawUnit(rng));
    const auto bw = static_cast<int64_t>(std::lround(std::sqrt(target * ratio)));
    const auto bh = static_cast<int64_t>(std::lround(std::sqrt(target / ratio)));
    if (bw > 0 && bw <= width && bh > 0 && bh <= height) {
      h = bh;
      w = bw;
      top = DrawBelow(rng, static_cast<int>(height - h + 1));
      left = DrawBelow(rng, static_cast<int>(width - w + 1));
      break;
    }
  }
  const bool flip = (rng() >> 63) != 0;
  // RandomTemporalDelete: `kept` distinct frames, in order (a partial Fisher-Yates).
  std::vector<int64_t> order(static_cast<size_t>(frames));
  for (int64_t t = 0; t < frames; ++t) order[t] = t;
  for (int64_t k = 0; k < kept; ++k) {
    const int64_t pick = k + DrawBelow(rng, static_cast<int>(frames - k));
    std::swap(order[k], order[pick]);
  }
  std::sort(order.begin(), order.begin() + kept);
  // Nearest-neighbour sources of each output row and column.
  std::vector<int64_t> src_y(static_cast<size_t>(height)),
      src_x(static_cast<size_t>(width));
  for (int64_t y = 0; y < height; ++y) src_y[y] = top + std::min(y * h / height, h - 1);
  for (int64_t x = 0; x < width; ++x) {
    const int64_t from = flip ? width - 1 - x : x;
    src_x[x] = left + std::min(from * w / width, w - 1);
  }
  const int64_t plane = height * width;
  for (int64_t k = 0; k < kept; ++k) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* src = in + (order[k] * channels + c) * plane;
      float* dst = out + (k * channels + c) * plane;
      for (int64_t y = 0; y < height; ++y) {
        const float* row = src + src_y[y] * width;
        for (int64_t x = 0; x < width; ++x) dst[y * width + x] = row[src_x[x]];
      }
    }
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
  // DVS128 Gesture and CIFAR10-DVS: none yet (issue 20: the later configs' resize,
  // crop, flip, rotation and temporal deletion are to come; README says so).
  gesture_ = dataset == "DVS128Gesture";
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
    // §6, §11: event counts as they are (no normalisation), zero elsewhere.
    const bool transform = augment && gesture_;
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
    if (transform) {
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

// Per-sample conversion to the network's input (ALGORITHM.md §11): u8 → float,
// normalisation, and the data set's training augmentation.
#ifndef EDBP_CORE_DATA_TRANSFORM_H_
#define EDBP_CORE_DATA_TRANSFORM_H_

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "core/data/dataset.h"

namespace edbp::data {

// Per-channel normalisation: x = ((u8 / 255) - mean[c]) / std[c], in float32 and in
// that order (torchvision ToTensor + Normalize).
struct Normalization {
  std::vector<float> mean;
  std::vector<float> std;
};

// §11: MNIST and FashionMNIST mean 0.1307 / std 0.3081; CIFAR10/100 per channel.
Normalization NormalizationFor(std::string_view dataset);

// Writes sample `index` of `ds` as floats into `out`: a static image as normalised
// [C, H, W]; a dense sequence (SMNIST) as normalised [frames, C, H, W]; event frames
// (NMNIST) as their counts [frames, C, H, W], unnormalised (§11). With
// `augment`, applies the data set's training transform drawing from `rng`
// (FashionMNIST: horizontal flip with probability 1/2; MNIST: none; CIFAR100: random
// crop with zero padding 4 then flip; CIFAR10: those then AutoAugment(IMAGENET), on
// the u8 image before normalisation, augment.h; NMNIST, DVS128Gesture, CIFAR10DVS,
// SMNIST: none); without, draws
// nothing from `rng`.
void MakeSample(const Dataset& ds, const Normalization& norm, int64_t index, bool augment,
                std::mt19937_64& rng, float* out);

// MakeSample for many samples of one data set (the loader's inner loop): the
// normalised value of each u8 level of each channel is computed once, by the same
// float32 operations, so results are bit-identical to MakeSample's. Immutable after
// construction (safe to share across threads); `ds` must outlive it.
class SampleMaker {
 public:
  SampleMaker(const Dataset& ds, const Normalization& norm);

  // The same as MakeSample(ds, norm, index, augment, rng, out).
  void Make(int64_t index, bool augment, std::mt19937_64& rng, float* out) const;

 private:
  const Dataset& ds_;
  bool transform_known_ = false;  // the data set's training transform is written
  bool flips_ = false;            // ... and is a horizontal flip (FashionMNIST)
  bool crops_ = false;            // ... or crop + flip on the u8 image (CIFAR10/100)
  bool auto_augment_ = false;     // ... then AutoAugment (CIFAR10)
  std::vector<float> table_;      // [C][256]: normalised value of each u8 level
};

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_TRANSFORM_H_

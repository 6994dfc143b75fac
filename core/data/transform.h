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
// the u8 image before normalisation, augment.h; DVS128Gesture: the random resized crop
// and flip of GestureTrainingFrames on the counts, with frames_kept (SampleMaker) its
// random temporal deletion too; CIFAR10DVS: Cifar10DvsTrainingFrames, dvs_transform.h;
// NMNIST, SMNIST: none); without, draws nothing from `rng`. CIFAR10DVS frames are
// resized to 48x48 in both cases (§11.1): `out` holds InputShapeOf(ds) per frame.

// The per-frame shape of the samples MakeSample / SampleMaker make of `ds`: {C, 48, 48}
// for CIFAR10-DVS (its frames are resized, §11.1), else ds.shape.
config::SampleShape InputShapeOf(const Dataset& ds);
// The per-frame shape a data set named `dataset` is stored in when the network sees
// `input` (MakeSyntheticSplits' shape for --synthetic-data): CIFAR10DVS's 128x128
// sensor frames (§11.1), else `input`.
config::SampleShape StoredShapeFor(std::string_view dataset,
                                   const config::SampleShape& input);

void MakeSample(const Dataset& ds, const Normalization& norm, int64_t index, bool augment,
                std::mt19937_64& rng, float* out);

// MakeSample for many samples of one data set (the loader's inner loop): the
// normalised value of each u8 level of each channel is computed once, by the same
// float32 operations, so results are bit-identical to MakeSample's. Immutable after
// construction (safe to share across threads); `ds` must outlive it.
// §11, DVS128 Gesture's training transform on one sample's frames `in` [frames, C, H,
// W] (the reference: RandomResizedCrop(128, scale=(0.5, 1.0), NEAREST),
// RandomHorizontalFlip, RandomTemporalDelete(T_remain=kept), applied to the whole
// frame sequence at once): a box of area fraction s ~ U[0.5, 1] and aspect ratio
// r = exp(U[ln 3/4, ln 4/3]) (w = round(sqrt(s·H·W·r)), h = round(sqrt(s·H·W/r)), up to
// 10 draws until it fits, else the whole frame), its top-left uniform among the places
// it fits, resized back to H x W by nearest neighbour (source = floor(dst · h / H)); then
// a mirror of the W axis with probability 1/2; then `kept` of the frames, chosen
// uniformly without replacement, in their order (kept = frames: all). Writes
// [kept, C, H, W] to `out`. Draws in that order from `rng`.
void GestureTrainingFrames(const float* in, int64_t frames, int64_t channels,
                           int64_t height, int64_t width, int64_t kept,
                           std::mt19937_64& rng, float* out);

class SampleMaker {
 public:
  // frames_kept > 0: DVS128 Gesture's training transform keeps that many of the
  // sample's frames (random temporal deletion, §11); it must not exceed ds.frames and
  // is for that data set only (checked).
  SampleMaker(const Dataset& ds, const Normalization& norm, int64_t frames_kept = 0);

  // The same as MakeSample(ds, norm, index, augment, rng, out), `out` holding
  // output_numel() x max(output_frames(augment), 1) floats.
  void Make(int64_t index, bool augment, std::mt19937_64& rng, float* out) const;
  // Frames of a sample made with `augment` (0 for static images).
  int64_t output_frames(bool augment) const {
    return augment && frames_kept_ > 0 ? frames_kept_ : ds_.frames;
  }
  // Floats of one output frame (or static image): the product of InputShapeOf(ds).
  int64_t output_numel() const { return output_numel_; }

 private:
  const Dataset& ds_;
  bool transform_known_ = false;  // the data set's training transform is written
  bool flips_ = false;            // ... and is a horizontal flip (FashionMNIST)
  bool crops_ = false;            // ... or crop + flip on the u8 image (CIFAR10/100)
  bool auto_augment_ = false;     // ... then AutoAugment (CIFAR10)
  bool gesture_ = false;          // ... or DVS128 Gesture's crop, flip, deletion (§11)
  bool cifar10_dvs_ = false;      // CIFAR10-DVS: resized to 48x48, crop, flip, NDA
  int64_t output_numel_ = 0;      // floats of one output frame
  int64_t frames_kept_ = 0;       // frames a Gesture training sample keeps (0: all)
  std::vector<float> table_;      // [C][256]: normalised value of each u8 level
};

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_TRANSFORM_H_

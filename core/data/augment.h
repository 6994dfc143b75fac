// Training augmentations on raw u8 images (ALGORITHM.md §11), with torchvision's
// semantics on PIL images: RandomCrop with zero padding, RandomHorizontalFlip and
// AutoAugment with the ImageNet policy. The random draws come from the caller's
// std::mt19937_64 through fixed formulas (never std:: distributions), so a seed gives
// the same images on every platform. Not bit-compatible with torch's generator.
#ifndef EDBP_CORE_DATA_AUGMENT_H_
#define EDBP_CORE_DATA_AUGMENT_H_

#include <cstdint>
#include <random>
#include <vector>

namespace edbp::data {

// A u8 image, channels × height × width, each channel row-major (CIFAR's layout).
struct ImageU8 {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;

  uint8_t& at(int c, int y, int x) { return pixels[(c * height + y) * width + x]; }
  uint8_t at(int c, int y, int x) const { return pixels[(c * height + y) * width + x]; }
};

// Uniform integer in [0, n) from one draw (n >= 1).
int DrawBelow(std::mt19937_64& rng, int n);
// Uniform double in [0, 1) from one draw (53 bits).
double DrawUnit(std::mt19937_64& rng);

// The same-sized window at (top, left) of the image zero-padded by `padding` on every
// side: out(c, y, x) = in(c, y + top - padding, x + left - padding), 0 outside.
ImageU8 PaddedCrop(const ImageU8& image, int padding, int top, int left);
// RandomCrop(size = image size, padding): top then left, each uniform in
// 0..2·padding (two draws).
ImageU8 RandomPaddedCrop(const ImageU8& image, int padding, std::mt19937_64& rng);
// Mirrors the width axis in place.
void FlipHorizontal(ImageU8& image);

// The operations of torchvision's AutoAugment that the ImageNet policy uses.
enum class AugmentOp {
  kPosterize,     // keep the top `magnitude` bits
  kRotate,        // counter-clockwise by `magnitude` degrees about the centre
  kSolarize,      // invert levels >= `magnitude`
  kAutoContrast,  // stretch each channel's [min, max] to [0, 255]
  kEqualize,      // PIL histogram equalisation per channel
  kColor,         // saturation: blend with the grey image by 1 + magnitude
  kContrast,      // blend with the mean grey level by 1 + magnitude
  kSharpness,     // blend with PIL's SMOOTH filter by 1 + magnitude
  kShearX,        // x_in = x + magnitude·y (torchvision >= 0.13: centre (0, 0))
  kInvert,        // 255 - v
};

// Applies one op with PIL's arithmetic (NEAREST sampling, fill 0). `magnitude` is the
// signed value from MagnitudeOf (ignored by AutoContrast, Equalize, Invert).
void ApplyAugmentOp(ImageU8& image, AugmentOp op, double magnitude);

// torchvision's 10-bin magnitude of `op` at `bin` (0..9), unsigned: Rotate
// linspace(0, 30), Solarize linspace(255, 0), Posterize 8,8,7,7,6,6,5,5,4,4,
// Color/Contrast/Sharpness linspace(0, 0.9), ShearX linspace(0, 0.3); 0 for the rest.
double MagnitudeOf(AugmentOp op, int bin);
// Whether torchvision gives `op` a random sign.
bool IsSigned(AugmentOp op);

// AutoAugment(IMAGENET): five draws — the sub-policy (uniform of 25), then for each
// of its two ops a probability draw (applied when u <= p) and a sign draw (top bit;
// negative when 0, as torchvision's `signs[i] == 0`) — always all five.
void AutoAugmentImageNet(ImageU8& image, std::mt19937_64& rng);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_AUGMENT_H_

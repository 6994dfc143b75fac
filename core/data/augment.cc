#include "core/data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "base/check.h"

namespace edbp::data {
namespace {

uint8_t Clip8Trunc(float v) {  // PIL's Blend: clip, then truncate
  if (v <= 0.0f) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v);
}

void ApplyLut(ImageU8& image, int c, const std::array<uint8_t, 256>& lut) {
  uint8_t* p = image.pixels.data() + static_cast<size_t>(c) * image.height * image.width;
  for (int i = 0; i < image.height * image.width; ++i) p[i] = lut[p[i]];
}

std::array<int64_t, 256> Histogram(const ImageU8& image, int c) {
  std::array<int64_t, 256> h{};
  const uint8_t* p =
      image.pixels.data() + static_cast<size_t>(c) * image.height * image.width;
  for (int i = 0; i < image.height * image.width; ++i) ++h[p[i]];
  return h;
}

// PIL's "L" conversion: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16; one channel: itself.
std::vector<uint8_t> Grey(const ImageU8& image) {
  const int n = image.height * image.width;
  std::vector<uint8_t> grey(image.pixels.begin(), image.pixels.begin() + n);
  if (image.channels != 3) return grey;
  for (int i = 0; i < n; ++i) {
    grey[i] =
        static_cast<uint8_t>((image.pixels[i] * 19595 + image.pixels[n + i] * 38470 +
                              image.pixels[2 * n + i] * 7471 + 0x8000) >>
                             16);
  }
  return grey;
}

// Image.blend(degenerate, image, alpha), `degenerate` given per pixel of each channel.
void Blend(ImageU8& image, const std::vector<uint8_t>& degenerate, float alpha) {
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const int d = degenerate[i];
    image.pixels[i] = Clip8Trunc(static_cast<float>(d) +
                                 alpha * static_cast<float>(image.pixels[i] - d));
  }
}

// PIL's affine transform with NEAREST, fill 0, in its 16.16 fixed point: output pixel
// (x, y) samples input floor(a·(x+½) + b·(y+½) + c, d·(x+½) + e·(y+½) + f).
void AffineNearest(ImageU8& image, const std::array<double, 6>& m) {
  auto fix = [](double v) { return static_cast<int64_t>(std::floor(v * 65536.0 + 0.5)); };
  const int64_t a0 = fix(m[0]), a1 = fix(m[1]), a3 = fix(m[3]), a4 = fix(m[4]);
  const int64_t xo = fix(m[2] + m[1] * 0.5 + m[0] * 0.5);
  const int64_t yo = fix(m[5] + m[4] * 0.5 + m[3] * 0.5);
  const ImageU8 in = image;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const int64_t xin = (xo + a1 * y + a0 * x) >> 16;  // arithmetic: floor
      const int64_t yin = (yo + a4 * y + a3 * x) >> 16;
      const bool inside = xin >= 0 && xin < image.width && yin >= 0 && yin < image.height;
      for (int c = 0; c < image.channels; ++c) {
        image.at(c, y, x) =
            inside ? in.at(c, static_cast<int>(yin), static_cast<int>(xin)) : 0;
      }
    }
  }
}

double Round15(double v) { return std::round(v * 1e15) / 1e15; }  // Python round(v, 15)

// PIL Image.rotate(angle, NEAREST, expand=False, centre (w/2, h/2)).
void Rotate(ImageU8& image, double degrees) {
  const double angle = std::fmod(std::fmod(degrees, 360.0) + 360.0, 360.0);
  if (angle == 0.0) return;
  const double rad = -angle * std::numbers::pi / 180.0;
  std::array<double, 6> m = {Round15(std::cos(rad)),  Round15(std::sin(rad)), 0.0,
                             Round15(-std::sin(rad)), Round15(std::cos(rad)), 0.0};
  const double cx = image.width / 2.0, cy = image.height / 2.0;
  m[2] = m[0] * -cx + m[1] * -cy + cx;
  m[5] = m[3] * -cx + m[4] * -cy + cy;
  AffineNearest(image, m);
}

void Equalize(ImageU8& image, int c) {  // PIL ImageOps.equalize, one band
  const std::array<int64_t, 256> h = Histogram(image, c);
  int64_t total = 0, last = 0, levels = 0;
  for (const int64_t count : h) {
    if (count == 0) continue;
    total += count;
    last = count;
    ++levels;
  }
  if (levels <= 1) return;
  const int64_t step = (total - last) / 256;
  if (step == 0) return;
  std::array<uint8_t, 256> lut;
  int64_t n = step / 2;
  for (int i = 0; i < 256; ++i) {
    lut[i] = static_cast<uint8_t>(std::min<int64_t>(n / step, 255));  // point() clips
    n += h[i];
  }
  ApplyLut(image, c, lut);
}

void AutoContrast(ImageU8& image, int c) {  // PIL ImageOps.autocontrast(cutoff=0)
  const std::array<int64_t, 256> h = Histogram(image, c);
  int lo = 0, hi = 255;
  while (lo < 256 && h[lo] == 0) ++lo;
  while (hi >= 0 && h[hi] == 0) --hi;
  if (hi <= lo) return;
  const double scale = 255.0 / (hi - lo);
  const double offset = -lo * scale;
  std::array<uint8_t, 256> lut;
  for (int i = 0; i < 256; ++i) {
    const int v = static_cast<int>(i * scale + offset);  // Python int(): truncation
    lut[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
  }
  ApplyLut(image, c, lut);
}

// PIL's SMOOTH filter (3×3, centre 5, others 1, /13, rounded); the border is copied.
std::vector<uint8_t> Smooth(const ImageU8& image) {
  std::vector<uint8_t> out = image.pixels;
  for (int c = 0; c < image.channels; ++c) {
    for (int y = 1; y + 1 < image.height; ++y) {
      for (int x = 1; x + 1 < image.width; ++x) {
        int sum = 4 * image.at(c, y, x);
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) sum += image.at(c, y + dy, x + dx);
        }
        // sum/13 is never within 1/26 of a half: exact rounding needs no float.
        out[(c * image.height + y) * image.width + x] =
            static_cast<uint8_t>((2 * sum + 13) / 26);
      }
    }
  }
  return out;
}

// torch.linspace(start, end, 10)[bin] in float32 (its two-sided formula).
double Linspace10(float start, float end, int bin) {
  const float step = (end - start) / 9.0f;
  return bin < 5 ? start + step * static_cast<float>(bin)
                 : end - step * static_cast<float>(9 - bin);
}

struct PolicyOp {
  AugmentOp op;
  double probability;
  int bin;  // -1: no magnitude
};
using Op = AugmentOp;
// torchvision AutoAugmentPolicy.IMAGENET (_get_policies), in its order.
constexpr std::array<std::array<PolicyOp, 2>, 25> kImageNetPolicy = {{
    {{{Op::kPosterize, 0.4, 8}, {Op::kRotate, 0.6, 9}}},
    {{{Op::kSolarize, 0.6, 5}, {Op::kAutoContrast, 0.6, -1}}},
    {{{Op::kEqualize, 0.8, -1}, {Op::kEqualize, 0.6, -1}}},
    {{{Op::kPosterize, 0.6, 7}, {Op::kPosterize, 0.6, 6}}},
    {{{Op::kEqualize, 0.4, -1}, {Op::kSolarize, 0.2, 4}}},
    {{{Op::kEqualize, 0.4, -1}, {Op::kRotate, 0.8, 8}}},
    {{{Op::kSolarize, 0.6, 3}, {Op::kEqualize, 0.6, -1}}},
    {{{Op::kPosterize, 0.8, 5}, {Op::kEqualize, 1.0, -1}}},
    {{{Op::kRotate, 0.2, 3}, {Op::kSolarize, 0.6, 8}}},
    {{{Op::kEqualize, 0.6, -1}, {Op::kPosterize, 0.4, 6}}},
    {{{Op::kRotate, 0.8, 8}, {Op::kColor, 0.4, 0}}},
    {{{Op::kRotate, 0.4, 9}, {Op::kEqualize, 0.6, -1}}},
    {{{Op::kEqualize, 0.0, -1}, {Op::kEqualize, 0.8, -1}}},
    {{{Op::kInvert, 0.6, -1}, {Op::kEqualize, 1.0, -1}}},
    {{{Op::kColor, 0.6, 4}, {Op::kContrast, 1.0, 8}}},
    {{{Op::kRotate, 0.8, 8}, {Op::kColor, 1.0, 2}}},
    {{{Op::kColor, 0.8, 8}, {Op::kSolarize, 0.8, 7}}},
    {{{Op::kSharpness, 0.4, 7}, {Op::kInvert, 0.6, -1}}},
    {{{Op::kShearX, 0.6, 5}, {Op::kEqualize, 1.0, -1}}},
    {{{Op::kColor, 0.4, 0}, {Op::kEqualize, 0.6, -1}}},
    {{{Op::kEqualize, 0.4, -1}, {Op::kSolarize, 0.2, 4}}},
    {{{Op::kSolarize, 0.6, 5}, {Op::kAutoContrast, 0.6, -1}}},
    {{{Op::kInvert, 0.6, -1}, {Op::kEqualize, 1.0, -1}}},
    {{{Op::kColor, 0.6, 4}, {Op::kContrast, 1.0, 8}}},
    {{{Op::kEqualize, 0.8, -1}, {Op::kEqualize, 0.6, -1}}},
}};

}  // namespace

int DrawBelow(std::mt19937_64& rng, int n) {
  EDBP_CHECK(n >= 1) << n;
  return static_cast<int>(((rng() >> 32) * static_cast<uint64_t>(n)) >> 32);
}

double DrawUnit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1p-53;
}

ImageU8 PaddedCrop(const ImageU8& image, int padding, int top, int left) {
  ImageU8 out = image;
  for (int c = 0; c < image.channels; ++c) {
    for (int y = 0; y < image.height; ++y) {
      for (int x = 0; x < image.width; ++x) {
        const int sy = y + top - padding, sx = x + left - padding;
        const bool inside = sy >= 0 && sy < image.height && sx >= 0 && sx < image.width;
        out.at(c, y, x) = inside ? image.at(c, sy, sx) : 0;
      }
    }
  }
  return out;
}

ImageU8 RandomPaddedCrop(const ImageU8& image, int padding, std::mt19937_64& rng) {
  const int top = DrawBelow(rng, 2 * padding + 1);
  const int left = DrawBelow(rng, 2 * padding + 1);
  return PaddedCrop(image, padding, top, left);
}

void FlipHorizontal(ImageU8& image) {
  for (int c = 0; c < image.channels; ++c) {
    for (int y = 0; y < image.height; ++y) {
      uint8_t* row = &image.at(c, y, 0);
      std::reverse(row, row + image.width);
    }
  }
}

void ApplyAugmentOp(ImageU8& image, AugmentOp op, double magnitude) {
  switch (op) {
    case AugmentOp::kPosterize: {
      const int bits = static_cast<int>(magnitude);
      const int mask = ~((1 << (8 - bits)) - 1) & 0xff;
      for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(v & mask);
      return;
    }
    case AugmentOp::kRotate:
      Rotate(image, magnitude);
      return;
    case AugmentOp::kSolarize:
      for (uint8_t& v : image.pixels) {
        if (v >= magnitude) v = static_cast<uint8_t>(255 - v);
      }
      return;
    case AugmentOp::kAutoContrast:
      for (int c = 0; c < image.channels; ++c) AutoContrast(image, c);
      return;
    case AugmentOp::kEqualize:
      for (int c = 0; c < image.channels; ++c) Equalize(image, c);
      return;
    case AugmentOp::kColor: {
      const std::vector<uint8_t> grey = Grey(image);
      std::vector<uint8_t> degenerate;
      for (int c = 0; c < image.channels; ++c) {
        degenerate.insert(degenerate.end(), grey.begin(), grey.end());
      }
      Blend(image, degenerate, static_cast<float>(1.0 + magnitude));
      return;
    }
    case AugmentOp::kContrast: {
      const std::vector<uint8_t> grey = Grey(image);
      double sum = 0;
      for (const uint8_t v : grey) sum += v;
      // PIL's int(mean + 0.5): the mean is >= 0, so this rounds half up as PIL does.
      // NOLINTNEXTLINE(bugprone-incorrect-roundings)
      const int mean = static_cast<int>(sum / static_cast<double>(grey.size()) + 0.5);
      Blend(image, std::vector<uint8_t>(image.pixels.size(), static_cast<uint8_t>(mean)),
            static_cast<float>(1.0 + magnitude));
      return;
    }
    case AugmentOp::kSharpness:
      Blend(image, Smooth(image), static_cast<float>(1.0 + magnitude));
      return;
    case AugmentOp::kShearX:
      // F.affine(shear=(degrees(atan(m)), 0), center=(0, 0)) on PIL: [1, m, 0, 0, 1, 0].
      AffineNearest(image, {1.0, std::tan(std::atan(magnitude)), 0.0, 0.0, 1.0, 0.0});
      return;
    case AugmentOp::kInvert:
      for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(255 - v);
      return;
  }
}

double MagnitudeOf(AugmentOp op, int bin) {
  EDBP_CHECK(bin >= 0 && bin < 10) << bin;
  switch (op) {
    case AugmentOp::kPosterize: {
      const int bits = 8 - bin / 2;  // 8 - round(bin / 2.25): 8,8,7,7,6,6,5,5,4,4
      return bits;
    }
    case AugmentOp::kRotate:
      return Linspace10(0.0f, 30.0f, bin);
    case AugmentOp::kSolarize:
      return Linspace10(255.0f, 0.0f, bin);
    case AugmentOp::kColor:
    case AugmentOp::kContrast:
    case AugmentOp::kSharpness:
      return Linspace10(0.0f, 0.9f, bin);
    case AugmentOp::kShearX:
      return Linspace10(0.0f, 0.3f, bin);
    case AugmentOp::kAutoContrast:
    case AugmentOp::kEqualize:
    case AugmentOp::kInvert:
      return 0.0;
  }
  return 0.0;
}

bool IsSigned(AugmentOp op) {
  return op == AugmentOp::kRotate || op == AugmentOp::kColor ||
         op == AugmentOp::kContrast || op == AugmentOp::kSharpness ||
         op == AugmentOp::kShearX;
}

void AutoAugmentImageNet(ImageU8& image, std::mt19937_64& rng) {
  const auto& policy = kImageNetPolicy[DrawBelow(rng, kImageNetPolicy.size())];
  const std::array<double, 2> probs = {DrawUnit(rng), DrawUnit(rng)};
  const std::array<bool, 2> negative = {(rng() >> 63) == 0, (rng() >> 63) == 0};
  for (int i = 0; i < 2; ++i) {
    const PolicyOp& step = policy[i];
    if (probs[i] > step.probability) continue;
    double magnitude = step.bin >= 0 ? MagnitudeOf(step.op, step.bin) : 0.0;
    if (IsSigned(step.op) && negative[i]) magnitude = -magnitude;
    ApplyAugmentOp(image, step.op, magnitude);
  }
}

}  // namespace edbp::data

#include "core/data/dvs_transform.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "base/check.h"
#include "core/data/augment.h"

namespace edbp::data {
namespace {

// One axis of ResizeBilinear: source indices and weights per output index.
struct LinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<float> l0, l1;
};

LinearTaps BilinearTaps(int64_t in, int64_t out) {
  LinearTaps taps;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    const float src = std::max(scale * (static_cast<float>(d) + 0.5f) - 0.5f, 0.0f);
    const auto i0 = static_cast<int64_t>(src);  // floor: src >= 0
    const float l1 = std::clamp(src - static_cast<float>(i0), 0.0f, 1.0f);
    taps.i0.push_back(std::min(i0, in - 1));
    taps.i1.push_back(std::min(i0 + 1, in - 1));
    taps.l0.push_back(1.0f - l1);
    taps.l1.push_back(l1);
  }
  return taps;
}

}  // namespace

CropBox DrawResizedCropBox(int64_t height, int64_t width, double min_scale,
                           std::mt19937_64& rng) {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (min_scale + (1.0 - min_scale) * DrawUnit(rng));
    const double ratio = std::exp(log_lo + (log_hi - log_lo) * DrawUnit(rng));
    const auto w = static_cast<int64_t>(std::lround(std::sqrt(target * ratio)));
    const auto h = static_cast<int64_t>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      CropBox box{.top = 0, .left = 0, .height = h, .width = w};
      box.top = DrawBelow(rng, static_cast<int>(height - h + 1));
      box.left = DrawBelow(rng, static_cast<int>(width - w + 1));
      return box;
    }
  }
  return {.top = 0, .left = 0, .height = height, .width = width};
}

void CropResizeNearest(const float* in, int64_t planes, int64_t height, int64_t width,
                       const CropBox& box, int64_t out_height, int64_t out_width,
                       bool flip, float* out) {
  EDBP_CHECK(box.top >= 0 && box.left >= 0 && box.height >= 1 && box.width >= 1 &&
             box.top + box.height <= height && box.left + box.width <= width)
      << "box " << box.top << "," << box.left << " " << box.height << "x" << box.width
      << " in " << height << "x" << width;
  std::vector<int64_t> src_y(static_cast<size_t>(out_height)),
      src_x(static_cast<size_t>(out_width));
  for (int64_t y = 0; y < out_height; ++y) {
    src_y[y] = box.top + std::min(y * box.height / out_height, box.height - 1);
  }
  for (int64_t x = 0; x < out_width; ++x) {
    const int64_t from = flip ? out_width - 1 - x : x;
    src_x[x] = box.left + std::min(from * box.width / out_width, box.width - 1);
  }
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = in + p * height * width;
    float* dst = out + p * out_height * out_width;
    for (int64_t y = 0; y < out_height; ++y) {
      const float* row = src + src_y[y] * width;
      for (int64_t x = 0; x < out_width; ++x) dst[y * out_width + x] = row[src_x[x]];
    }
  }
}

void ResizeBilinear(const float* in, int64_t planes, int64_t height, int64_t width,
                    int64_t out_height, int64_t out_width, float* out) {
  const LinearTaps ty = BilinearTaps(height, out_height);
  const LinearTaps tx = BilinearTaps(width, out_width);
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = in + p * height * width;
    float* dst = out + p * out_height * out_width;
    for (int64_t y = 0; y < out_height; ++y) {
      const float* r0 = src + ty.i0[y] * width;
      const float* r1 = src + ty.i1[y] * width;
      for (int64_t x = 0; x < out_width; ++x) {
        const float top = tx.l0[x] * r0[tx.i0[x]] + tx.l1[x] * r0[tx.i1[x]];
        const float bottom = tx.l0[x] * r1[tx.i0[x]] + tx.l1[x] * r1[tx.i1[x]];
        dst[y * out_width + x] = ty.l0[y] * top + ty.l1[y] * bottom;
      }
    }
  }
}

void RollPlanes(const float* in, int64_t planes, int64_t height, int64_t width,
                int64_t dy, int64_t dx, float* out) {
  // ((v mod n) + n) mod n: the non-negative remainder of a possibly negative shift.
  const auto wrap = [](int64_t v, int64_t n) { return ((v % n) + n) % n; };
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = in + p * height * width;
    float* dst = out + p * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const float* row = src + wrap(y - dy, height) * width;
      for (int64_t x = 0; x < width; ++x) dst[y * width + x] = row[wrap(x - dx, width)];
    }
  }
}

void RotatePlanesNearest(const float* in, int64_t planes, int64_t height, int64_t width,
                         double degrees, float* out) {
  const double a = degrees * std::numbers::pi / 180.0;
  const double c = std::cos(a), s = std::sin(a);
  const double cx = 0.5 * static_cast<double>(width - 1);
  const double cy = 0.5 * static_cast<double>(height - 1);
  // Source offset of every output pixel within a plane, -1 outside the frame.
  std::vector<int64_t> source(static_cast<size_t>(height * width));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const double u = static_cast<double>(x) - cx, v = static_cast<double>(y) - cy;
      const double sx = std::nearbyint(c * u - s * v + cx);
      const double sy = std::nearbyint(s * u + c * v + cy);
      const bool inside = sx >= 0 && sx < static_cast<double>(width) && sy >= 0 &&
                          sy < static_cast<double>(height);
      source[y * width + x] =
          inside ? static_cast<int64_t>(sy) * width + static_cast<int64_t>(sx) : -1;
    }
  }
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = in + p * height * width;
    float* dst = out + p * height * width;
    for (int64_t k = 0; k < height * width; ++k) {
      dst[k] = source[k] < 0 ? 0.0f : src[source[k]];
    }
  }
}

void CutoutPlanes(float* planes, int64_t count, int64_t height, int64_t width, int64_t cy,
                  int64_t cx, int64_t length) {
  const int64_t half = length / 2;
  const int64_t y1 = std::clamp<int64_t>(cy - half, 0, height);
  const int64_t y2 = std::clamp<int64_t>(cy + half, 0, height);
  const int64_t x1 = std::clamp<int64_t>(cx - half, 0, width);
  const int64_t x2 = std::clamp<int64_t>(cx + half, 0, width);
  for (int64_t p = 0; p < count; ++p) {
    float* plane = planes + p * height * width;
    for (int64_t y = y1; y < y2; ++y) {
      std::fill(plane + y * width + x1, plane + y * width + x2, 0.0f);
    }
  }
}

void Cifar10DvsTestFrames(const float* in, int64_t frames, int64_t channels,
                          int64_t height, int64_t width, float* out) {
  ResizeBilinear(in, frames * channels, height, width, kCifar10DvsInputSide,
                 kCifar10DvsInputSide, out);
}

void Cifar10DvsTrainingFrames(const float* in, int64_t frames, int64_t channels,
                              int64_t height, int64_t width, std::mt19937_64& rng,
                              float* out) {
  constexpr int64_t kSide = kCifar10DvsInputSide;
  const int64_t planes = frames * channels;
  // RandomResizedCrop(128, scale=(0.7, 1.0), NEAREST): back to the frame's own size.
  const CropBox box = DrawResizedCropBox(height, width, 0.7, rng);
  std::vector<float> cropped(static_cast<size_t>(planes * height * width));
  CropResizeNearest(in, planes, height, width, box, height, width, /*flip=*/false,
                    cropped.data());
  // Resize((48, 48)), then the flip of the resized frames.
  std::vector<float> resized(static_cast<size_t>(planes * kSide * kSide));
  ResizeBilinear(cropped.data(), planes, height, width, kSide, kSide, resized.data());
  if ((rng() >> 63) != 0) {
    for (int64_t p = 0; p < planes; ++p) {
      for (int64_t y = 0; y < kSide; ++y) {
        float* row = resized.data() + (p * kSide + y) * kSide;
        std::reverse(row, row + kSide);
      }
    }
  }
  // function_nda(M=1, N=2): one of roll (by up to 2N+1), rotation (15N degrees),
  // cutout (length 8N).
  switch (DrawBelow(rng, 3)) {
    case 0: {
      const int64_t dy = DrawBelow(rng, 11) - 5;
      const int64_t dx = DrawBelow(rng, 11) - 5;
      RollPlanes(resized.data(), planes, kSide, kSide, dy, dx, out);
      return;
    }
    case 1:
      RotatePlanesNearest(resized.data(), planes, kSide, kSide,
                          -30.0 + 60.0 * DrawUnit(rng), out);
      return;
    default: {
      const int64_t cy = DrawBelow(rng, static_cast<int>(kSide));
      const int64_t cx = DrawBelow(rng, static_cast<int>(kSide));
      CutoutPlanes(resized.data(), planes, kSide, kSide, cy, cx, 16);
      std::copy(resized.begin(), resized.end(), out);
      return;
    }
  }
}

}  // namespace edbp::data

// Pooling with stride = kernel and no padding (ALGORITHM.md §5). Each (sample,
// channel) plane is independent; planes are spread over the pool. The float
// operations follow PyTorch's CPU kernels (avg_pool2d, max_pool2d, interpolate
// nearest) so the results match the reference bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/op_checks.h"

namespace edbp::kernels::cpu {
namespace {

// Planes per work item: at least ~4k input values, so small layers stay serial.
int64_t PlaneGrain(const Pool2dShape& s) {
  return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, s.h * s.w));
}

// Index of the first maximum of a window in row-major scan order, as PyTorch's CPU
// max_pool2d: a later value wins only if strictly greater, and a NaN always wins.
int64_t WindowArgMax(const float* plane, int64_t w, int64_t y0, int64_t x0, int64_t kh,
                     int64_t kw) {
  int64_t best = y0 * w + x0;
  float best_val = -std::numeric_limits<float>::infinity();
  for (int64_t ky = 0; ky < kh; ++ky) {
    const int64_t row = (y0 + ky) * w;
    for (int64_t kx = 0; kx < kw; ++kx) {
      const float v = plane[row + x0 + kx];
      if (v > best_val || std::isnan(v)) {
        best_val = v;
        best = row + x0 + kx;
      }
    }
  }
  return best;
}

// PyTorch's nearest-neighbour source index for F.interpolate(mode='nearest') without
// scale_factor: scale = float(in_size) / out_size in float32, then
// min(floor(dst * scale), in_size - 1) (aten/src/ATen/native/UpSample.h).
int64_t NearestSourceIndex(int64_t dst, int64_t in_size, int64_t out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const int64_t src = static_cast<int64_t>(std::floor(static_cast<float>(dst) * scale));
  return std::min(src, in_size - 1);
}

// The 2×2 average of one plane (the common case), the same float operations as the
// general loop in the same order, in a loop the compiler vectorises.
void AvgPlane2x2(const float* in, int64_t w, int64_t oh, int64_t ow, float* out) {
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* r0 = in + 2 * oy * w;
    const float* r1 = r0 + w;
    float* o = out + oy * ow;
    for (int64_t ox = 0; ox < ow; ++ox) {
      o[ox] =
          ((((0.0f + r0[2 * ox]) + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) / 4.0f;
    }
  }
}

// adjusted_avg backward of one 2×2 plane with h = 2·oh and w = 2·ow, where the nearest
// upsampling source of input (i, j) is (i/2, j/2): the general path's float operations,
// written row pair by row pair.
void AdjustedAvgBackwardPlane2x2(const float* dy, const float* pooled, int64_t oh,
                                 int64_t ow, float* dx) {
  const float limit = 5.0f;  // kh·kw + 1
  for (int64_t oy = 0; oy < oh; ++oy) {
    float* d0 = dx + 2 * oy * (2 * ow);
    float* d1 = d0 + 2 * ow;
    for (int64_t ox = 0; ox < ow; ++ox) {
      float a = 1.0f / pooled[oy * ow + ox];
      a = a > limit ? 0.0f : a;
      a = a / 4.0f;
      const float v = dy[oy * ow + ox] * a;
      d0[2 * ox] = v;
      d0[2 * ox + 1] = v;
      d1[2 * ox] = v;
      d1[2 * ox + 1] = v;
    }
  }
}

}  // namespace

void Pool2dForward(const Pool2dForwardArgs& args) {
  const Pool2dShape& s = args.shape;
  CheckPool2dShape(s, "Pool2dForward");
  const int64_t h = s.h, w = s.w, kh = s.kh, kw = s.kw;
  const int64_t oh = s.out_h(), ow = s.out_w();
  const float window = static_cast<float>(kh * kw);
  const bool is_max = args.type == PoolType::kMax;
  const float* x = args.x;
  float* y = args.y;
  ParallelFor(s.n * s.c, PlaneGrain(s), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * h * w;
      float* out = y + p * oh * ow;
      if (!is_max && kh == 2 && kw == 2) {
        AvgPlane2x2(in, w, oh, ow, out);
        continue;
      }
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          if (is_max) {
            out[oy * ow + ox] = in[WindowArgMax(in, w, oy * kh, ox * kw, kh, kw)];
            continue;
          }
          // avg and adjusted_avg: float sum in scan order, then divide (PyTorch).
          float sum = 0;
          for (int64_t ky = 0; ky < kh; ++ky) {
            const float* row = in + (oy * kh + ky) * w + ox * kw;
            for (int64_t kx = 0; kx < kw; ++kx) sum += row[kx];
          }
          out[oy * ow + ox] = sum / window;
        }
      }
    }
  });
}

void Pool2dBackward(const Pool2dBackwardArgs& args) {
  const Pool2dShape& s = args.shape;
  CheckPool2dShape(s, "Pool2dBackward");
  const int64_t h = s.h, w = s.w, kh = s.kh, kw = s.kw;
  const int64_t oh = s.out_h(), ow = s.out_w();
  const float window = static_cast<float>(kh * kw);
  const PoolType type = args.type;
  EDBP_CHECK(type != PoolType::kMax || args.x != nullptr)
      << "Pool2dBackward: max needs x";
  EDBP_CHECK(type != PoolType::kAdjustedAvg || args.y != nullptr)
      << "Pool2dBackward: adjusted_avg needs y";
  const float* x = args.x;
  const float* y = args.y;
  const float* dy = args.dy;
  float* dx = args.dx;

  // Nearest-upsampling source of every input row and column (adjusted_avg only).
  std::vector<int64_t> src_row, src_col;
  if (type == PoolType::kAdjustedAvg) {
    src_row.resize(static_cast<size_t>(h));
    src_col.resize(static_cast<size_t>(w));
    for (int64_t i = 0; i < h; ++i) src_row[i] = NearestSourceIndex(i, oh, h);
    for (int64_t j = 0; j < w; ++j) src_col[j] = NearestSourceIndex(j, ow, w);
  }

  ParallelFor(s.n * s.c, PlaneGrain(s), [&](int64_t begin, int64_t end) {
    std::vector<float> scaled;  // adjusted_avg: dy · a of one plane
    if (type == PoolType::kAdjustedAvg) scaled.resize(static_cast<size_t>(oh * ow));
    for (int64_t p = begin; p < end; ++p) {
      const float* g = dy + p * oh * ow;
      float* out = dx + p * h * w;
      if (type == PoolType::kAdjustedAvg && kh == 2 && kw == 2 && h == 2 * oh &&
          w == 2 * ow) {
        AdjustedAvgBackwardPlane2x2(g, y + p * oh * ow, oh, ow, out);
        continue;
      }
      if (type == PoolType::kAdjustedAvg) {
        // §5: a = 1/y; a = 0 where a > kh·kw + 1 (also y = 0); a /= kh·kw; then
        // nearest-upsample dy·a to the full input size (no dropped edges).
        const float* pooled = y + p * oh * ow;
        const float limit = static_cast<float>(kh * kw + 1);
        for (int64_t o = 0; o < oh * ow; ++o) {
          float a = 1.0f / pooled[o];
          if (a > limit) a = 0;
          a = a / window;
          scaled[o] = g[o] * a;
        }
        for (int64_t i = 0; i < h; ++i) {
          const float* src = scaled.data() + src_row[i] * ow;
          float* dst = out + i * w;
          for (int64_t j = 0; j < w; ++j) dst[j] = src[src_col[j]];
        }
        continue;
      }
      // avg and max: inputs outside every window (dropped edges) get 0.
      std::fill(out, out + h * w, 0.0f);
      const float* in = type == PoolType::kMax ? x + p * h * w : nullptr;
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          const float go = g[oy * ow + ox];
          if (type == PoolType::kMax) {
            out[WindowArgMax(in, w, oy * kh, ox * kw, kh, kw)] = go;
            continue;
          }
          const float share = go / window;
          for (int64_t ky = 0; ky < kh; ++ky) {
            float* row = out + (oy * kh + ky) * w + ox * kw;
            for (int64_t kx = 0; kx < kw; ++kx) row[kx] = share;
          }
        }
      }
    }
  });
}

}  // namespace edbp::kernels::cpu

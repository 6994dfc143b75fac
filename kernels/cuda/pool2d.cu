// Pooling with stride = kernel, no padding (ALGORITHM.md §5). Forward: one thread per
// output; backward: one thread per input element, which finds the window (and, for
// adjusted_avg, the nearest-upsampling source) it belongs to, so no scatter or memset
// is needed. Float operations as kernels/cpu/pool2d.cc (PyTorch's order).
#include <cmath>

#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"

namespace edbp::kernels::cuda {
namespace {

struct Dims {
  int64_t h, w, kh, kw, oh, ow;
};

Dims DimsOf(const Pool2dShape& s) { return {s.h, s.w, s.kh, s.kw, s.out_h(), s.out_w()}; }

// First maximum of the window in row-major scan order; a NaN always wins (PyTorch CPU).
__device__ int64_t WindowArgMax(const float* plane, int64_t w, int64_t y0, int64_t x0,
                                int64_t kh, int64_t kw) {
  int64_t best = y0 * w + x0;
  float best_val = -INFINITY;
  for (int64_t ky = 0; ky < kh; ++ky) {
    const int64_t row = (y0 + ky) * w;
    for (int64_t kx = 0; kx < kw; ++kx) {
      const float v = plane[row + x0 + kx];
      if (v > best_val || isnan(v)) {
        best_val = v;
        best = row + x0 + kx;
      }
    }
  }
  return best;
}

// F.interpolate(mode='nearest') source index: floor(dst · float(in)/out), capped.
__device__ int64_t NearestSourceIndex(int64_t dst, int64_t in_size, int64_t out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const int64_t src = static_cast<int64_t>(floorf(static_cast<float>(dst) * scale));
  return src < in_size - 1 ? src : in_size - 1;
}

__global__ void PoolForwardKernel(int64_t total, Dims d, bool is_max, const float* x,
                                  float* y) {
  const float window = static_cast<float>(d.kh * d.kw);
  for (int64_t o = GlobalIndex(); o < total; o += GridStride()) {
    const int64_t plane = o / (d.oh * d.ow);
    const int64_t oy = (o / d.ow) % d.oh;
    const int64_t ox = o % d.ow;
    const float* in = x + plane * d.h * d.w;
    if (is_max) {
      y[o] = in[WindowArgMax(in, d.w, oy * d.kh, ox * d.kw, d.kh, d.kw)];
      continue;
    }
    float sum = 0;  // avg and adjusted_avg: float sum in scan order, then divide
    for (int64_t ky = 0; ky < d.kh; ++ky) {
      const float* row = in + (oy * d.kh + ky) * d.w + ox * d.kw;
      for (int64_t kx = 0; kx < d.kw; ++kx) sum += row[kx];
    }
    y[o] = sum / window;
  }
}

__global__ void PoolBackwardKernel(int64_t total, Dims d, PoolType type, const float* x,
                                   const float* y, const float* dy, float* dx) {
  const float window = static_cast<float>(d.kh * d.kw);
  for (int64_t i = GlobalIndex(); i < total; i += GridStride()) {
    const int64_t plane = i / (d.h * d.w);
    const int64_t iy = (i / d.w) % d.h;
    const int64_t ix = i % d.w;
    const float* g = dy + plane * d.oh * d.ow;
    if (type == PoolType::kAdjustedAvg) {
      // §5: a = 1/y; a = 0 where a > kh·kw + 1 (also y = 0); a /= kh·kw; dx is the
      // nearest upsampling of dy·a to the full input (no dropped edges).
      const int64_t o =
          NearestSourceIndex(iy, d.oh, d.h) * d.ow + NearestSourceIndex(ix, d.ow, d.w);
      const float limit = static_cast<float>(d.kh * d.kw + 1);
      float a = 1.0f / y[plane * d.oh * d.ow + o];
      if (a > limit) a = 0;
      a = a / window;
      dx[i] = g[o] * a;
      continue;
    }
    const int64_t oy = iy / d.kh, ox = ix / d.kw;
    if (oy >= d.oh || ox >= d.ow) {  // dropped edge: outside every window
      dx[i] = 0.0f;
      continue;
    }
    const float go = g[oy * d.ow + ox];
    if (type == PoolType::kMax) {
      const float* in = x + plane * d.h * d.w;
      const int64_t best = WindowArgMax(in, d.w, oy * d.kh, ox * d.kw, d.kh, d.kw);
      dx[i] = best == iy * d.w + ix ? go : 0.0f;
    } else {
      dx[i] = go / window;
    }
  }
}

}  // namespace

cudaError_t LaunchPool2dForward(const Pool2dForwardArgs& a, cudaStream_t stream) {
  const Dims d = DimsOf(a.shape);
  const int64_t total = a.shape.n * a.shape.c * d.oh * d.ow;
  EDBP_LAUNCH_OR_RETURN(total, PoolForwardKernel, total, d, a.type == PoolType::kMax, a.x,
                        a.y);
}

cudaError_t LaunchPool2dBackward(const Pool2dBackwardArgs& a, cudaStream_t stream) {
  const Dims d = DimsOf(a.shape);
  const int64_t total = a.shape.n * a.shape.c * d.h * d.w;
  EDBP_LAUNCH_OR_RETURN(total, PoolBackwardKernel, total, d, a.type, a.x, a.y, a.dy,
                        a.dx);
}

}  // namespace edbp::kernels::cuda

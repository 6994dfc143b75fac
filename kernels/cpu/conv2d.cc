// 2-D convolution (no bias, groups 1) as im2col + sgemm per sample, threaded over
// samples. For sample i, with K = c_in·kh·kw and P = out_h·out_w:
//   col = im2col(x[i])            [K, P]
//   forward:        y[i]  = W · col          ([c_out, K] · [K, P])
//   backward data:  dx[i] = col2im(Wᵀ · dy[i])
//   backward filter: dW   = Σ_i dy[i] · colᵀ  (fixed chunks of samples, see below)
// A 1×1 kernel with stride 1 and no padding needs no im2col: col is x[i] itself.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/check.h"
#include "kernels/cpu/buffer.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sparse.h"

namespace edbp::kernels::cpu {
namespace {

// Backward-filter sums per-sample products in at most this many chunks of samples.
// The chunking depends on the shape only, so dW is bitwise the same whatever the
// thread count.
constexpr int64_t kFilterChunks = 8;
// The chunks' partial dW buffers together stay under about this many floats (64 MiB).
constexpr int64_t kMaxPartialFloats = int64_t{16} << 20;

struct Dims {
  int64_t k;         // rows of col: c_in·kh·kw
  int64_t p;         // columns of col: out_h·out_w
  int64_t in_size;   // floats per input sample: c_in·h·w
  int64_t out_size;  // floats per output sample: c_out·p
  bool direct;       // col == x (1×1 kernel, stride 1, no padding)
};

Dims CheckShape(const Conv2dShape& s, const char* op) {
  EDBP_CHECK(s.n >= 0 && s.c_in >= 1 && s.h >= 1 && s.w >= 1 && s.c_out >= 1 &&
             s.kh >= 1 && s.kw >= 1 && s.stride_h >= 1 && s.stride_w >= 1 &&
             s.pad_h >= 0 && s.pad_w >= 0 && s.dil_h >= 1 && s.dil_w >= 1)
      << op << ": bad shape n=" << s.n << " c_in=" << s.c_in << " h=" << s.h
      << " w=" << s.w << " c_out=" << s.c_out << " kernel=" << s.kh << "x" << s.kw
      << " stride=" << s.stride_h << "," << s.stride_w << " pad=" << s.pad_h << ","
      << s.pad_w << " dilation=" << s.dil_h << "," << s.dil_w;
  EDBP_CHECK(s.out_h() >= 1 && s.out_w() >= 1)
      << op << ": empty output " << s.out_h() << "x" << s.out_w();
  Dims d;
  d.k = s.c_in * s.kh * s.kw;
  d.p = s.out_h() * s.out_w();
  d.in_size = s.c_in * s.h * s.w;
  d.out_size = s.c_out * d.p;
  d.direct = s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 &&
             s.pad_h == 0 && s.pad_w == 0;
  constexpr int64_t kIntMax = 0x7fffffff;  // cblas takes 32-bit sizes
  EDBP_CHECK(d.k <= kIntMax && d.p <= kIntMax && s.c_out <= kIntMax)
      << op << ": size exceeds the 32-bit BLAS interface";
  return d;
}

// The output positions o in [0, out) whose input index o·stride + offset lies in
// [0, size): a contiguous range [lo, hi), possibly empty.
struct Range {
  int64_t lo, hi;
};
Range ValidRange(int64_t offset, int64_t stride, int64_t size, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// dst[i] = src[i] for i < n. Runs are short (one output row), so this avoids a
// library call per run: the fixed-size memcpys compile to vector moves.
inline void CopyRun(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) std::memcpy(dst + i, src + i, 8 * sizeof(float));
  for (; i + 4 <= n; i += 4) std::memcpy(dst + i, src + i, 4 * sizeof(float));
  for (; i < n; ++i) dst[i] = src[i];
}

// dst[i] += src[i] for i < n, four lanes at a time (each element's sum is the same
// as in a scalar loop).
inline void AddRun(float* __restrict dst, const float* __restrict src, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float a[4], b[4];
    std::memcpy(a, dst + i, sizeof(a));
    std::memcpy(b, src + i, sizeof(b));
    for (int l = 0; l < 4; ++l) a[l] += b[l];
    std::memcpy(dst + i, a, sizeof(a));
  }
  for (; i < n; ++i) dst[i] += src[i];
}

// One kernel tap (c, ki, kj) = one row of col, out_h·out_w long. Output (oy, ox)
// reads input element in + (y0 + oy·stride_h)·w + x0 + ox·stride_w (in = the start
// of channel c); the read is inside the image exactly for oy in rows, ox in cols.
struct Tap {
  int64_t row;  // index of the col row: (c·kh + ki)·kw + kj
  int64_t in;
  int64_t y0, x0;
  Range rows, cols;
};

template <typename Fn>
void ForEachTap(const Conv2dShape& s, Fn fn) {
  const int64_t oh = s.out_h(), ow = s.out_w();
  for (int64_t c = 0; c < s.c_in; ++c) {
    for (int64_t ki = 0; ki < s.kh; ++ki) {
      const int64_t y0 = ki * s.dil_h - s.pad_h;
      const Range rows = ValidRange(y0, s.stride_h, s.h, oh);
      for (int64_t kj = 0; kj < s.kw; ++kj) {
        const int64_t x0 = kj * s.dil_w - s.pad_w;
        fn(Tap{(c * s.kh + ki) * s.kw + kj, c * s.h * s.w, y0, x0, rows,
               ValidRange(x0, s.stride_w, s.w, ow)});
      }
    }
  }
}

// col[K, P] = im2col(x) for one sample, zero where the kernel reads padding.
void Im2Col(const Conv2dShape& s, int64_t p, const float* x, float* col) {
  const int64_t ow = s.out_w(), sh = s.stride_h, sw = s.stride_w, w = s.w;
  ForEachTap(s, [&](const Tap& t) {
    float* dst = col + t.row * p;
    const int64_t lo = t.cols.lo, hi = t.cols.hi;
    std::fill(dst, dst + t.rows.lo * ow, 0.0f);
    for (int64_t oy = t.rows.lo; oy < t.rows.hi; ++oy) {
      float* d = dst + oy * ow;
      // Input index of output column 0 (may lie in the padding; only ox in [lo, hi)
      // are read).
      const int64_t in = t.in + (t.y0 + oy * sh) * w + t.x0;
      for (int64_t ox = 0; ox < lo; ++ox) d[ox] = 0;
      if (sw == 1) {
        CopyRun(d + lo, x + in + lo, hi - lo);
      } else {
        for (int64_t ox = lo; ox < hi; ++ox) d[ox] = x[in + ox * sw];
      }
      for (int64_t ox = hi; ox < ow; ++ox) d[ox] = 0;
    }
    std::fill(dst + t.rows.hi * ow, dst + p, 0.0f);
  });
}

// x = col2im(col) for one sample: x is zeroed, then every col entry is added to the
// input position it was read from (overlapping windows accumulate, in col order).
void Col2Im(const Conv2dShape& s, int64_t p, const float* col, float* x) {
  const int64_t ow = s.out_w(), sh = s.stride_h, sw = s.stride_w, w = s.w;
  std::fill(x, x + s.c_in * s.h * w, 0.0f);
  ForEachTap(s, [&](const Tap& t) {
    const float* src = col + t.row * p;
    const int64_t lo = t.cols.lo, hi = t.cols.hi;
    for (int64_t oy = t.rows.lo; oy < t.rows.hi; ++oy) {
      const float* r = src + oy * ow;
      const int64_t in = t.in + (t.y0 + oy * sh) * w + t.x0;
      if (sw == 1) {
        AddRun(x + in + lo, r + lo, hi - lo);
      } else {
        for (int64_t ox = lo; ox < hi; ++ox) x[in + ox * sw] += r[ox];
      }
    }
  });
}

// A per-thread buffer of at least `count` floats, reused across calls.
float* ThreadScratch(int64_t count) {
  thread_local Buffer<float> buffer;
  return Grow(buffer, count);
}

blasint Int(int64_t v) { return static_cast<blasint>(v); }

}  // namespace

void Conv2dForward(const Conv2dForwardArgs& args) {
  const Conv2dShape& s = args.shape;
  const Dims d = CheckShape(s, "Conv2dForward");
  if (SparseConv2dForward(args)) return;  // spiking input: the event-driven path
  const float* x = args.x;
  const float* w = args.w;
  float* y = args.y;
  ParallelFor(s.n, 1, [&](int64_t begin, int64_t end) {
    float* col = d.direct ? nullptr : ThreadScratch(d.k * d.p);
    for (int64_t i = begin; i < end; ++i) {
      const float* src = x + i * d.in_size;
      if (!d.direct) {
        Im2Col(s, d.p, src, col);
        src = col;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int(s.c_out), Int(d.p),
                  Int(d.k), 1.0f, w, Int(d.k), src, Int(d.p), 0.0f, y + i * d.out_size,
                  Int(d.p));
    }
  });
}

void Conv2dBackwardData(const Conv2dBackwardDataArgs& args) {
  const Conv2dShape& s = args.shape;
  const Dims d = CheckShape(s, "Conv2dBackwardData");
  if (SparseConv2dBackwardData(args)) return;  // sparse grad_in_ (sparse.h)
  const float* dy = args.dy;
  const float* w = args.w;
  float* dx = args.dx;
  ParallelFor(s.n, 1, [&](int64_t begin, int64_t end) {
    float* col = d.direct ? nullptr : ThreadScratch(d.k * d.p);
    for (int64_t i = begin; i < end; ++i) {
      float* dst = d.direct ? dx + i * d.in_size : col;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int(d.k), Int(d.p),
                  Int(s.c_out), 1.0f, w, Int(d.k), dy + i * d.out_size, Int(d.p), 0.0f,
                  dst, Int(d.p));
      if (!d.direct) Col2Im(s, d.p, col, dx + i * d.in_size);
    }
  });
}

void Conv2dBackwardFilter(const Conv2dBackwardFilterArgs& args) {
  const Conv2dShape& s = args.shape;
  const Dims d = CheckShape(s, "Conv2dBackwardFilter");
  if (SparseConv2dBackwardFilter(args)) return;  // spiking input (sparse.h)
  const int64_t dw_size = s.c_out * d.k;
  float* dw = args.dw;
  if (s.n == 0) {
    std::fill(dw, dw + dw_size, 0.0f);
    return;
  }
  // Chunk c covers samples [n·c/chunks, n·(c+1)/chunks); chunk 0 accumulates straight
  // into dw, the others into partial buffers that are added to dw in chunk order.
  const int64_t chunks = std::min(
      {s.n, kFilterChunks, 1 + kMaxPartialFloats / std::max<int64_t>(1, dw_size)});
  Buffer<float> partials(static_cast<size_t>((chunks - 1) * dw_size));
  const float* x = args.x;
  const float* dy = args.dy;
  ParallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    float* col = d.direct ? nullptr : ThreadScratch(d.k * d.p);
    for (int64_t c = begin; c < end; ++c) {
      float* acc = c == 0 ? dw : partials.data() + (c - 1) * dw_size;
      const int64_t first = s.n * c / chunks, last = s.n * (c + 1) / chunks;
      for (int64_t i = first; i < last; ++i) {
        const float* src = x + i * d.in_size;
        if (!d.direct) {
          Im2Col(s, d.p, src, col);
          src = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int(s.c_out), Int(d.k),
                    Int(d.p), 1.0f, dy + i * d.out_size, Int(d.p), src, Int(d.p),
                    i == first ? 0.0f : 1.0f, acc, Int(d.k));
      }
    }
  });
  if (chunks == 1) return;
  ParallelFor(dw_size, int64_t{1} << 14, [&](int64_t begin, int64_t end) {
    for (int64_t c = 1; c < chunks; ++c) {
      const float* part = partials.data() + (c - 1) * dw_size;
      for (int64_t j = begin; j < end; ++j) dw[j] += part[j];
    }
  });
}

}  // namespace edbp::kernels::cpu

// Spellings for maths written once for both backends (kernels/*_math.h): plain C++ that
// includes no CUDA header; under nvcc the functions are also __device__ (the only CUDA
// spelling outside kernels/cuda/). The CPU calls them from its scalar and vector paths,
// the CUDA kernels from their threads, so "the same float operations in the same order"
// holds by construction and not only by test.
//
// Every operation is an IEEE float32/float64 operation evaluated as written: the CPU
// build has -ffp-contract=off and the CUDA build --fmad=false --prec-div=true
// --prec-sqrt=true (no a*b+c fusion, correctly rounded division and square root).
#ifndef EDBP_KERNELS_HOST_DEVICE_H_
#define EDBP_KERNELS_HOST_DEVICE_H_

#if defined(__CUDACC__)
#define EDBP_HOST_DEVICE __host__ __device__
// For templates instantiated with the CPU's vector types too: always inlined, so a
// vector never crosses a call between functions compiled for different ISAs.
#define EDBP_HOST_DEVICE_INLINE __host__ __device__ __forceinline__
#else
#define EDBP_HOST_DEVICE
#define EDBP_HOST_DEVICE_INLINE [[gnu::always_inline]] inline
#endif

namespace edbp::kernels {

// std::clamp(v, lo, hi) as the CPU's std::clamp evaluates it: v < lo ? lo :
// (hi < v ? hi : v); a NaN passes through unchanged.
EDBP_HOST_DEVICE inline float ClampLikeStd(float v, float lo, float hi) {
  return v < lo ? lo : (hi < v ? hi : v);
}

// std::max(a, b) as the CPU's std::max evaluates it: a < b ? b : a (so a NaN in `b`
// is skipped and a NaN in `a` kept, unlike fmax).
EDBP_HOST_DEVICE inline double MaxLikeStd(double a, double b) { return a < b ? b : a; }

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_HOST_DEVICE_H_

// The vector vocabulary of the CPU kernels: GCC vector extensions 64 bytes wide, and
// the per-level variants that run them.
//
// A function defined with EDBP_CPU_DISPATCH is compiled for AVX-512, AVX2 and the
// baseline (x86-64: SSE2; elsewhere only the baseline), and each call runs the variant
// of the active level (isa.h: the CPU's best, or lower where EDBP_CPU_ISA caps it).
// The helpers below are forced inline, so each variant compiles them for its own
// instruction set; the 64-byte vectors then never cross a call boundary, whose ABI
// differs with and without AVX-512 (GCC's -Wpsabi note, silenced for the including
// file). Lane math is plain IEEE float32/float64 (no FMA contraction: the build has
// -ffp-contract=off), so every variant gives the same bits.
//
// Include this only from kernels/cpu/*.cc.
#ifndef EDBP_KERNELS_CPU_SIMD_H_
#define EDBP_KERNELS_CPU_SIMD_H_

#include <cstdint>
#include <cstring>

#include "kernels/cpu/isa.h"

#define EDBP_INLINE [[gnu::always_inline]] inline
// For a lambda that takes or returns vectors: inlined into the variant that calls it.
#define EDBP_LAMBDA_INLINE __attribute__((always_inline))

#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// Kernels may add a path in intrinsics (functions marked EDBP_AVX512 or EDBP_AVX2,
// called only at that level) for what the vector extensions cannot say: masked loads
// and stores, compress, left-packing with a permutation.
#define EDBP_HAVE_X86_INTRINSICS 1
#define EDBP_AVX512 __attribute__((target("avx512f")))
#define EDBP_AVX2 __attribute__((target("avx2")))

// Defines `ret name params`, which runs name##Impl<level> args (an EDBP_INLINE
// function template over the CpuIsa level, which may pick the level's native vectors,
// NativeF below) compiled for the active level: name##Avx512, name##Avx2 and
// name##Portable are the three variants.
#define EDBP_CPU_DISPATCH(ret, name, params, args)                   \
  EDBP_AVX512 ret name##Avx512 params {                              \
    return name##Impl<::edbp::kernels::cpu::CpuIsa::kAvx512> args;   \
  }                                                                  \
  EDBP_AVX2 ret name##Avx2 params {                                  \
    return name##Impl<::edbp::kernels::cpu::CpuIsa::kAvx2> args;     \
  }                                                                  \
  ret name##Portable params {                                        \
    return name##Impl<::edbp::kernels::cpu::CpuIsa::kPortable> args; \
  }                                                                  \
  ret name params {                                                  \
    switch (::edbp::kernels::cpu::ActiveCpuIsa()) {                  \
      case ::edbp::kernels::cpu::CpuIsa::kAvx512:                    \
        return name##Avx512 args;                                    \
      case ::edbp::kernels::cpu::CpuIsa::kAvx2:                      \
        return name##Avx2 args;                                      \
      case ::edbp::kernels::cpu::CpuIsa::kPortable:                  \
        break;                                                       \
    }                                                                \
    return name##Portable args;                                      \
  }
#else
// `params` and `args` are parenthesised lists, spliced in as they are.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define EDBP_CPU_DISPATCH(ret, name, params, args) \
  ret name params { return name##Impl<::edbp::kernels::cpu::CpuIsa::kPortable> args; }
// NOLINTEND(bugprone-macro-parentheses)
#endif

namespace edbp::kernels::cpu {
// The kernels run at the AVX-512 level (isa.h): its intrinsics paths may be taken.
inline bool UseAvx512Intrinsics() { return ActiveCpuIsa() == CpuIsa::kAvx512; }
// The kernels run at the AVX2 level: its intrinsics paths may be taken.
inline bool UseAvx2Intrinsics() { return ActiveCpuIsa() == CpuIsa::kAvx2; }
}  // namespace edbp::kernels::cpu

namespace edbp::kernels::cpu::simd {

constexpr int64_t kLanes = 16;  // floats per VecF
using VecF = float __attribute__((vector_size(kLanes * sizeof(float))));
using VecI = int __attribute__((vector_size(kLanes * sizeof(int))));
using VecD = double __attribute__((vector_size(8 * sizeof(double))));  // 8 lanes
using VecF8 = float __attribute__((vector_size(8 * sizeof(float))));
using VecI8 = int __attribute__((vector_size(8 * sizeof(int))));
using VecF4 = float __attribute__((vector_size(4 * sizeof(float))));
using VecF2 = float __attribute__((vector_size(2 * sizeof(float))));
using VecD4 = double __attribute__((vector_size(4 * sizeof(double))));
using VecD2 = double __attribute__((vector_size(2 * sizeof(double))));
using VecI4 = int __attribute__((vector_size(4 * sizeof(int))));

// The float and int vectors a level holds in one register. GCC lowers a generic vector
// wider than the registers through memory (every 64-byte VecF op under AVX2 stores and
// reloads its halves, and a scalar × VecF builds the broadcast lane by lane), so the
// inner loops are written over NativeF<level>, as many as make up their 16-lane
// blocks; each lane's sum is the same at every width.
// D: doubles in one register; H: as many floats (what widens into a D).
template <CpuIsa kIsa>
struct Native {  // kPortable: 16 bytes (SSE2, NEON)
  using F = VecF4;
  using I = VecI4;
  using D = VecD2;
  using H = VecF2;
};
template <>
struct Native<CpuIsa::kAvx2> {
  using F = VecF8;
  using I = VecI8;
  using D = VecD4;
  using H = VecF4;
};
template <>
struct Native<CpuIsa::kAvx512> {
  using F = VecF;
  using I = VecI;
  using D = VecD;
  using H = VecF8;
};
template <CpuIsa kIsa>
using NativeF = typename Native<kIsa>::F;
template <CpuIsa kIsa>
using NativeD = typename Native<kIsa>::D;
template <CpuIsa kIsa>
using NativeH = typename Native<kIsa>::H;

template <CpuIsa kIsa>
using NativeI = typename Native<kIsa>::I;

// Lanes of a vector type.
template <typename V>
inline constexpr int kLanesOf = static_cast<int>(sizeof(V) / sizeof(V{}[0]));

template <typename V>
EDBP_INLINE V LoadAs(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename V>
EDBP_INLINE void StoreAs(void* p, V v) {
  std::memcpy(p, &v, sizeof(v));
}
// The float64 sums of 16 lanes held in 16 / kLanesOf<D> native vectors acc[]: lanes 0-7
// in order, lanes 8-15 in order, then the two halves. The order every float64 channel
// or block sum of the CPU kernels fixes, whatever the level's vector width.
template <typename D>
EDBP_INLINE double SumLanes16(const D* acc) {
  constexpr int kL = kLanesOf<D>;
  double half[2] = {0, 0};
  for (int l = 0; l < 16; ++l) half[l / 8] += acc[l / kL][l % kL];
  return half[0] + half[1];
}

// kLanesOf<D> floats at p (H: that many floats, NativeH) widened to doubles (exact).
template <typename D, typename H>
EDBP_INLINE D LoadWidened(const float* p) {
  static_assert(sizeof(H) * 2 == sizeof(D));
  return __builtin_convertvector(LoadAs<H>(p), D);
}

#if defined(__GNUC__) && !defined(__clang__)
// One butterfly stage of an L × L transpose (L = the lanes of V): rows i and i + D for
// every i with bit D clear (L / 2 pairs). lo and hi are the two-source shuffles
//   lo[l] = l & D ? L + l - D : l;  hi[l] = l & D ? L + l : l + D,
// written out per width below as literals: a mask that is constant only after
// inlining may reach GCC's vector lowering still variable and be split into lanes.
template <int D, typename V, typename VI>
EDBP_INLINE void TransposeStage(V* v, VI lo, VI hi) {
  constexpr int kL = kLanesOf<V>;
#pragma GCC unroll 16
  for (int pair = 0; pair < kL / 2; ++pair) {
    const int i = pair / D * 2 * D + pair % D;
    const V a = v[i], b = v[i + D];
    v[i] = __builtin_shuffle(a, b, lo);
    v[i + D] = __builtin_shuffle(a, b, hi);
  }
}
#endif

// Transposes the L × L block whose rows are v[0..L), L the lanes of V (16, 8 or 4 floats:
// one register of the level, Native above): afterwards v[i][l] is the old v[l][i].
// log2(L) butterfly stages; stage d swaps bit d of the row index with bit d of the lane
// index, each row pair in two two-source shuffles (vpermt2ps on AVX-512; vshufps,
// vblendps and vperm2f128 on AVX2). A square of another width than the level's
// registers would be lowered through memory, lane by lane (the AVX2 variant of a
// 16 × 16 transpose stored every float on its own: perf annotate, bench/RESULTS.md).
template <typename V>
EDBP_INLINE void TransposeSquare(V* v) {
  constexpr int kL = kLanesOf<V>;
#if defined(__GNUC__) && !defined(__clang__)
  if constexpr (kL == 16) {
    TransposeStage<1>(v, VecI{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
                      VecI{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31});
    TransposeStage<2>(v, VecI{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
                      VecI{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31});
    TransposeStage<4>(v, VecI{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
                      VecI{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31});
    TransposeStage<8>(v, VecI{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
                      VecI{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31});
    return;
  } else if constexpr (kL == 8) {
    TransposeStage<1>(v, VecI8{0, 8, 2, 10, 4, 12, 6, 14},
                      VecI8{1, 9, 3, 11, 5, 13, 7, 15});
    TransposeStage<2>(v, VecI8{0, 1, 8, 9, 4, 5, 12, 13},
                      VecI8{2, 3, 10, 11, 6, 7, 14, 15});
    TransposeStage<4>(v, VecI8{0, 1, 2, 3, 8, 9, 10, 11},
                      VecI8{4, 5, 6, 7, 12, 13, 14, 15});
    return;
  } else if constexpr (kL == 4) {
    TransposeStage<1>(v, VecI4{0, 4, 2, 6}, VecI4{1, 5, 3, 7});
    TransposeStage<2>(v, VecI4{0, 1, 4, 5}, VecI4{2, 3, 6, 7});
    return;
  }
#endif
  for (int i = 0; i < kL; ++i) {
    for (int l = i + 1; l < kL; ++l) {
      const float t = v[i][l];
      v[i][l] = v[l][i];
      v[l][i] = t;
    }
  }
}

// dst[j · ld_dst + i] = src[i · ld_src + j] for i < count and j < cols, in L × L squares
// of the level's registers (V = NativeF<level>: every load and store one contiguous
// register) and element by element at the edges. Only copies: the same bits at every
// level.
template <typename V>
EDBP_INLINE void TransposeBlock(const float* src, int64_t ld_src, int64_t count,
                                int64_t cols, float* dst, int64_t ld_dst) {
  constexpr int64_t kL = kLanesOf<V>;
  const int64_t full_rows = count / kL * kL, full_cols = cols / kL * kL;
  for (int64_t i0 = 0; i0 < full_rows; i0 += kL) {
    for (int64_t j0 = 0; j0 < full_cols; j0 += kL) {
      V v[kL];
#pragma GCC unroll 16
      for (int i = 0; i < kL; ++i) v[i] = LoadAs<V>(src + (i0 + i) * ld_src + j0);
      TransposeSquare(v);
#pragma GCC unroll 16
      for (int l = 0; l < kL; ++l) StoreAs(dst + (j0 + l) * ld_dst + i0, v[l]);
    }
  }
  for (int64_t j = full_cols; j < cols; ++j) {
    for (int64_t i = 0; i < count; ++i) dst[j * ld_dst + i] = src[i * ld_src + j];
  }
  for (int64_t j = 0; j < full_cols; ++j) {
    for (int64_t i = full_rows; i < count; ++i) dst[j * ld_dst + i] = src[i * ld_src + j];
  }
}

}  // namespace edbp::kernels::cpu::simd

#endif  // EDBP_KERNELS_CPU_SIMD_H_

// The vector vocabulary of the CPU kernels: GCC vector extensions 64 bytes wide, and
// the per-ISA clones that run them.
//
// A function marked EDBP_CPU_CLONES is compiled for AVX-512, AVX2 and baseline x86-64,
// and the best version the CPU supports is picked at load time (GCC target_clones).
// The helpers below are forced inline, so each clone compiles them for its own
// instruction set; the 64-byte vectors then never cross a call boundary, whose ABI
// differs with and without AVX-512 (GCC's -Wpsabi note, silenced for the including
// file). Lane math is plain IEEE float32/float64 (no FMA contraction: the build has
// -ffp-contract=off), so every clone gives the same bits.
//
// Include this only from kernels/cpu/*.cc.
#ifndef EDBP_KERNELS_CPU_SIMD_H_
#define EDBP_KERNELS_CPU_SIMD_H_

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EDBP_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define EDBP_CPU_CLONES
#endif

#define EDBP_INLINE [[gnu::always_inline]] inline

#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// Kernels may add a path in AVX-512 intrinsics (functions marked EDBP_AVX512, called
// only when UseAvx512Intrinsics()) for what the vector extensions cannot say: masked
// loads and stores, compress.
#define EDBP_HAVE_AVX512_INTRINSICS 1
#define EDBP_AVX512 __attribute__((target("avx512f")))
#endif

namespace edbp::kernels::cpu {
// The CPU has AVX-512F and no test asked for the portable code (isa.cc).
bool UseAvx512Intrinsics();
}  // namespace edbp::kernels::cpu

namespace edbp::kernels::cpu::simd {

constexpr int64_t kLanes = 16;  // floats per VecF
using VecF = float __attribute__((vector_size(kLanes * sizeof(float))));
using VecI = int __attribute__((vector_size(kLanes * sizeof(int))));
using VecD = double __attribute__((vector_size(8 * sizeof(double))));  // 8 lanes
using VecF8 = float __attribute__((vector_size(8 * sizeof(float))));

EDBP_INLINE VecF Load(const float* p) {
  VecF v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
EDBP_INLINE void Store(float* p, VecF v) { std::memcpy(p, &v, sizeof(v)); }
EDBP_INLINE VecF Splat(float x) { return VecF{} + x; }

EDBP_INLINE VecF8 Load8(const float* p) {
  VecF8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
// 8 floats widened to doubles (exact).
EDBP_INLINE VecD ToDouble(VecF8 v) { return __builtin_convertvector(v, VecD); }
EDBP_INLINE VecD LoadAsDouble(const float* p) { return ToDouble(Load8(p)); }

// Σ of the 8 lanes, in lane order.
EDBP_INLINE double LaneSum(VecD v) {
  double s = 0;
  for (int l = 0; l < 8; ++l) s += v[l];
  return s;
}

#if defined(__GNUC__) && !defined(__clang__)
// One butterfly stage: rows i and i + D for every i with bit D clear (8 pairs).
template <int D>
EDBP_INLINE void TransposeStage(VecF* v, VecI lo, VecI hi) {
#pragma GCC unroll 8
  for (int pair = 0; pair < 8; ++pair) {
    const int i = pair / D * 2 * D + pair % D;
    const VecF a = v[i], b = v[i + D];
    v[i] = __builtin_shuffle(a, b, lo);
    v[i + D] = __builtin_shuffle(a, b, hi);
  }
}
#endif

// Transposes the 16×16 block whose rows are v[0..16): afterwards v[i][l] is the old
// v[l][i]. Four butterfly stages; stage d swaps bit d of the row index with bit d of
// the lane index, each row pair in two two-source shuffles (vpermt2ps on AVX-512).
EDBP_INLINE void Transpose16x16(VecF* v) {
#if defined(__GNUC__) && !defined(__clang__)
  // lo[l] = l & d ? 16 + l - d : l;  hi[l] = l & d ? 16 + l : l + d.
  TransposeStage<1>(v, VecI{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
                    VecI{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31});
  TransposeStage<2>(v, VecI{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
                    VecI{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31});
  TransposeStage<4>(v, VecI{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
                    VecI{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31});
  TransposeStage<8>(v, VecI{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
                    VecI{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31});
#else
  for (int i = 0; i < 16; ++i) {
    for (int l = i + 1; l < 16; ++l) {
      const float t = v[i][l];
      v[i][l] = v[l][i];
      v[l][i] = t;
    }
  }
#endif
}

}  // namespace edbp::kernels::cpu::simd

#endif  // EDBP_KERNELS_CPU_SIMD_H_

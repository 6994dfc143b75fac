// Spike-sparse GEMM and convolution kernels (see sparse.h for the maths and the
// guarantees).
//
// Layout tricks: the dense operand is rearranged once per call so that the values one
// non-zero multiplies are contiguous, kBlock output channels (or columns) wide, and
// summed in kBlock/16 vector registers; the output is written once per element. All
// scratch memory is thread-local and only grows, so a training loop stops allocating
// after its first step.
#include "kernels/cpu/sparse.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cpu/buffer.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

#ifdef EDBP_HAVE_X86_INTRINSICS
#include <immintrin.h>
#endif

namespace edbp::kernels::cpu {
namespace {

using simd::kLanes;
constexpr int kMaxVecs = 4;                    // registers per output block
constexpr int64_t kBlock = kMaxVecs * kLanes;  // 64 channels / columns

int64_t RoundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The k-block of the GEMM lists (kKBlock below); a multiple of 16.
constexpr int64_t kKBlockForLists = 64;

// ---- mode and crossovers ------------------------------------------------------------

SparseMode ModeFromEnvironment() {
  const char* env = std::getenv("EDBP_SPARSE");
  if (env == nullptr || *env == '\0') return SparseMode::kAuto;
  SparseMode mode;
  if (!ParseSparseMode(env, &mode)) {
    std::fprintf(stderr, "EDBP_SPARSE=%s: expected auto, off, always or blas\n", env);
    std::abort();
  }
  return mode;
}

std::atomic<SparseMode>& Mode() {
  static std::atomic<SparseMode> mode(ModeFromEnvironment());
  return mode;
}

// Number of non-zero entries among x[begin, end).
template <CpuIsa kIsa>
EDBP_INLINE int64_t CountRangeImpl(const float* x, int64_t begin, int64_t end) {
  int64_t nz = 0;
  for (int64_t i = begin; i < end; ++i) nz += x[i] != 0.0f;
  return nz;
}
EDBP_CPU_DISPATCH(int64_t, CountRange, (const float* x, int64_t begin, int64_t end),
                  (x, begin, end))

// Number of non-zero entries among count floats (any order: integer sums are exact).
int64_t CountNonZeros(const float* x, int64_t count) {
  std::atomic<int64_t> total{0};
  ParallelFor(count, int64_t{1} << 16,
              [&](int64_t begin, int64_t end) { total += CountRange(x, begin, end); });
  return total.load();
}

struct DensityLog {
  std::mutex mu;
  std::map<std::string, OperandDensity> by_key;  // guarded by mu
};
DensityLog& Log() {
  static DensityLog* const log = new DensityLog();
  return *log;
}

void Record(const std::string& key, int64_t nonzeros, int64_t total, bool sparse) {
  DensityLog& log = Log();
  std::lock_guard<std::mutex> lock(log.mu);
  OperandDensity& d = log.by_key[key];
  d.key = key;
  d.nonzeros += nonzeros;
  d.total += total;
  (sparse ? d.sparse_calls : d.dense_calls) += 1;
}

std::string Key(const char* op, const char* operand,
                std::initializer_list<int64_t> dims) {
  std::string key = std::string(op) + " " + operand + "[";
  for (const int64_t d : dims) {
    if (key.back() != '[') key += ",";
    key += std::to_string(d);
  }
  return key + "]";
}

// How an op runs a call.
enum class Path {
  kBlas,        // the dense BLAS path
  kSkip,        // the event-driven kernel over the operand's non-zeros
  kEveryEntry,  // the event-driven kernel over every entry (SparseMode::kOff)
};

// The event-driven kernel's lists keep the zeros too (same sums, see sparse.h).
bool KeepZeros(Path path) { return path == Path::kEveryEntry; }

// The path for a call whose operand holds `nonzeros` of `count` floats: kAuto and kOff
// decide by the same density (logged under `key`), so they take the same path on the
// same data; kOff then visits every entry.
Path ChoosePathFor(const std::string& key, int64_t nonzeros, int64_t count,
                   double crossover) {
  if (count == 0) return Path::kBlas;
  const bool event_driven =
      static_cast<double>(nonzeros) < crossover * static_cast<double>(count);
  Record(key, nonzeros, count, event_driven);
  if (!event_driven) return Path::kBlas;
  return GetSparseMode() == SparseMode::kOff ? Path::kEveryEntry : Path::kSkip;
}

// The path for an operand x of `count` floats (counted here only when the mode decides
// by density).
Path ChoosePath(const std::string& key, const float* x, int64_t count, double crossover) {
  switch (GetSparseMode()) {
    case SparseMode::kBlas:
      return Path::kBlas;
    case SparseMode::kAlways:
      return Path::kSkip;
    case SparseMode::kAuto:
    case SparseMode::kOff:
      break;
  }
  return ChoosePathFor(key, count == 0 ? 0 : CountNonZeros(x, count), count, crossover);
}

// ---- list builders in AVX-512 intrinsics (vcompressps)
// ---------------------------------

#ifdef EDBP_HAVE_X86_INTRINSICS
// Appends the non-zeros among the `valid` lanes of v at value[0..) and their ids at
// index[0..), in lane order (vcompressps), and returns how many there were. whole:
// both 16-lane vectors are stored (the caller's room allows it; cheaper than a
// compress-store), else only the packed entries.
EDBP_AVX512 inline int64_t AppendNonZeros(__m512 v, __mmask16 valid, __m512i ids,
                                          bool whole, float* value, int32_t* index) {
  // NEQ_UQ: true for a NaN too, as C++'s v != 0.0f
  const __mmask16 nonzero =
      _mm512_mask_cmp_ps_mask(valid, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
  if (whole) {
    _mm512_storeu_ps(value, _mm512_maskz_compress_ps(nonzero, v));
    _mm512_storeu_si512(index, _mm512_maskz_compress_epi32(nonzero, ids));
  } else {
    _mm512_mask_compressstoreu_ps(value, nonzero, v);
    _mm512_mask_compressstoreu_epi32(index, nonzero, ids);
  }
  return __builtin_popcount(static_cast<unsigned>(nonzero));
}

// 0, 1, ..., 15.
EDBP_AVX512 inline __m512i LaneIds() {
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// One row's lists of BuildSparseRows (non-transposed A) from a[0, k), chunk by chunk of
// 16 at the row's next free slot: whole vectors for full chunks (the slot never passes
// the chunk's start, so the store stays inside the row's room), only the packed
// entries for a partial last chunk. Fills starts[0 .. k_blocks] and returns the end
// position.
EDBP_AVX512 int64_t PackRowAvx512(const float* a, int64_t k, int64_t k_blocks,
                                  int64_t pos, int32_t* index, float* value,
                                  int64_t* starts) {
  const __m512i lane = LaneIds();
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    starts[kb] = pos;
    const int64_t end = std::min(k, (kb + 1) * kKBlockForLists);
    for (int64_t j0 = kb * kKBlockForLists; j0 < end; j0 += kLanes) {
      const int64_t len = std::min(kLanes, end - j0);
      const __mmask16 in =
          len == kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << len) - 1u);
      const __m512i j = _mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int>(j0)));
      pos += AppendNonZeros(_mm512_maskz_loadu_ps(in, a + j0), in, j, len == kLanes,
                            value + pos, index + pos);
    }
  }
  starts[k_blocks] = pos;
  return pos;
}

// The lists of BuildPixelLists (below) from a pixel-major copy xp [pixels, room] of the
// tensor (zeros in the padding lanes), 16 channels at a time at the pixel's next free
// slot; whole vectors are stored, which never pass the end of the pixel's room
// (slot ≤ c0).
EDBP_AVX512 void PackPixelListsAvx512(const float* xp, int64_t pixels, int64_t room,
                                      int64_t scale, int32_t* channel, float* value,
                                      int32_t* count) {
  const __m512i lane_offsets =
      _mm512_mullo_epi32(LaneIds(), _mm512_set1_epi32(static_cast<int>(scale)));
  for (int64_t q = 0; q < pixels; ++q) {
    const int64_t first = q * room;
    int64_t n = 0;
    for (int64_t c0 = 0; c0 < room; c0 += kLanes) {
      const __m512i offsets =
          _mm512_add_epi32(lane_offsets, _mm512_set1_epi32(static_cast<int>(c0 * scale)));
      n += AppendNonZeros(_mm512_loadu_ps(xp + first + c0), __mmask16{0xFFFF}, offsets,
                          /*whole=*/true, value + first + n, channel + first + n);
    }
    count[q] = static_cast<int32_t>(n);
  }
}

// ---- list builders in AVX2 intrinsics (left-pack through a permutation)
// ---------------

// For each 8-bit mask, the lanes of its set bits in increasing order, packed to the
// front, 4 bits per lane (lane i of the permutation in bits 4i .. 4i+3): 1 KiB.
constexpr std::array<uint32_t, 256> MakeLeftPackTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t mask = 0; mask < 256; ++mask) {
    uint32_t packed = 0;
    int slot = 0;
    for (uint32_t lane = 0; lane < 8; ++lane) {
      if ((mask >> lane & 1u) != 0) packed |= lane << (4 * slot++);
    }
    table[mask] = packed;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kLeftPack = MakeLeftPackTable();

// Stores the non-zeros of v at value[0..) and their ids at index[0..), in lane order,
// as whole 8-lane vectors (the caller's room allows it), and returns how many there
// were: vpermps/vpermd by the mask's permutation (what vcompressps does on AVX-512).
EDBP_AVX2 inline int64_t AppendNonZerosAvx2(__m256 v, __m256i ids, float* value,
                                            int32_t* index) {
  // NEQ_UQ: true for a NaN too, as C++'s v != 0.0f
  const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
  const __m256i perm = _mm256_and_si256(
      _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(kLeftPack[mask])),
                        _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
      _mm256_set1_epi32(15));
  _mm256_storeu_ps(value, _mm256_permutevar8x32_ps(v, perm));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(index),
                      _mm256_permutevar8x32_epi32(ids, perm));
  return __builtin_popcount(static_cast<unsigned>(mask));
}

// PackRowAvx512 in chunks of 8: whole vectors for full chunks (the slot never passes
// the chunk's start), the branch-free scalar loop for a partial last chunk.
EDBP_AVX2 int64_t PackRowAvx2(const float* a, int64_t k, int64_t k_blocks, int64_t pos,
                              int32_t* index, float* value, int64_t* starts) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t kb = 0; kb < k_blocks; ++kb) {
    starts[kb] = pos;
    const int64_t end = std::min(k, (kb + 1) * kKBlockForLists);
    int64_t j0 = kb * kKBlockForLists;
    for (; j0 + 8 <= end; j0 += 8) {
      const __m256i j = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(j0)));
      pos += AppendNonZerosAvx2(_mm256_loadu_ps(a + j0), j, value + pos, index + pos);
    }
    for (; j0 < end; ++j0) {
      index[pos] = static_cast<int32_t>(j0);
      value[pos] = a[j0];
      pos += a[j0] != 0.0f;
    }
  }
  starts[k_blocks] = pos;
  return pos;
}

// PackPixelListsAvx512 in chunks of 8 (room is a multiple of 16, so every chunk is
// whole and no store passes the end of the pixel's room: slot ≤ c0).
EDBP_AVX2 void PackPixelListsAvx2(const float* xp, int64_t pixels, int64_t room,
                                  int64_t scale, int32_t* channel, float* value,
                                  int32_t* count) {
  const __m256i lane_offsets =
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                         _mm256_set1_epi32(static_cast<int>(scale)));
  for (int64_t q = 0; q < pixels; ++q) {
    const int64_t first = q * room;
    int64_t n = 0;
    for (int64_t c0 = 0; c0 < room; c0 += 8) {
      const __m256i offsets =
          _mm256_add_epi32(lane_offsets, _mm256_set1_epi32(static_cast<int>(c0 * scale)));
      n += AppendNonZerosAvx2(_mm256_loadu_ps(xp + first + c0), offsets,
                              value + first + n, channel + first + n);
    }
    count[q] = static_cast<int32_t>(n);
  }
}
#endif

// ---- the inner loop: acc[0..NV) += v · row[0..16·NV) over a list of non-zeros
// ----------

// The native vectors V (simd::NativeF) that hold NV blocks of 16 floats.
template <int NV, typename V>
inline constexpr int kVecsFor = static_cast<int>(kLanes) * NV / simd::kLanesOf<V>;

// Makes p one opaque register value, so that the loads p[j · lanes] that follow are
// each one instruction with a constant displacement. Without it GCC 12 re-associates
// base + idx + j · lanes and keeps every j's offset in a register of its own: a `lea`
// per load and, with 8 loads (AVX2), a spilled offset per non-zero (perf annotate of
// ConvGatherImageAvx2). No instruction is emitted; the arithmetic is unchanged.
EDBP_INLINE void PinPointer(const float*& p) {
#if defined(__GNUC__)
  asm("" : "+r"(p));
#endif
}

// Sums Σ_e val[e] · base[idx[e] · stride + 0..16·NV) into acc[0 .. kVecsFor<NV, V>)
// (stride 1 when the lists hold offsets already).
template <int NV, typename V>
EDBP_INLINE void Gather(V* acc, const int32_t* idx, const float* val, int64_t count,
                        const float* base, int64_t stride) {
  constexpr int kN = kVecsFor<NV, V>;
  constexpr int kL = simd::kLanesOf<V>;
  for (int64_t e = 0; e < count; ++e) {
    const float v = val[e];  // scalar × vector broadcasts (no add, unlike V{} + v)
    const float* row = base + idx[e] * stride;
    PinPointer(row);
#pragma GCC unroll 16
    for (int j = 0; j < kN; ++j) acc[j] += v * simd::LoadAs<V>(row + j * kL);
  }
}

// ---- GEMM -----------------------------------------------------------------------------

// The lists are cut into blocks of kKBlock values of k (the column index of op(A)),
// so that one block's rows of op(B), kKBlock × kBlock floats (16 KiB), stay in L1 while
// every row of op(A) adds its terms from them: op(B) is read from memory once per
// column block instead of once per row.
constexpr int64_t kKBlock = kKBlockForLists;

// Rows of op(A) as lists of (k, value) in increasing k. Row r's list is stored from
// r · k (room for every k); Start(r, kb) is the position of its first entry with
// k ≥ kb · kKBlock, and Start(r, k_blocks) its end.
struct SparseRows {
  int64_t k_blocks = 0;
  Buffer<int32_t> index;
  Buffer<float> value;
  Buffer<int64_t> block_start;  // [m, k_blocks + 1]
  int64_t Start(int64_t r, int64_t kb) const {
    return block_start[r * (k_blocks + 1) + kb];
  }
};

// Fills `rows` from op(A) and returns the number of entries listed: the non-zeros, or
// every entry when keep_zeros. Branch-free: every value is written at its row's next
// free slot, which advances only past non-zeros (a zero lands inside the row's own
// room, where the next entry overwrites it or nothing reads it).
int64_t BuildSparseRows(const GemmArgs& g, bool keep_zeros, SparseRows& rows) {
  const int64_t m = g.m, k = g.k;
  const int64_t k_blocks = (k + kKBlock - 1) / kKBlock, stride = k_blocks + 1;
  rows.k_blocks = k_blocks;
  int32_t* index = Grow(rows.index, m * k);
  float* value = Grow(rows.value, m * k);
  int64_t* starts = Grow(rows.block_start, m * stride);
  std::atomic<int64_t> total{0};
  if (!g.trans_a) {
    // Row r of op(A) is row r of A.
    [[maybe_unused]] const bool packed512 = UseAvx512Intrinsics() && !keep_zeros;
    [[maybe_unused]] const bool packed2 = UseAvx2Intrinsics() && !keep_zeros;
    ParallelFor(m, 16, [&](int64_t begin, int64_t end) {
      int64_t nz = 0;
      for (int64_t r = begin; r < end; ++r) {
        const float* a = g.a + r * g.lda;
#ifdef EDBP_HAVE_X86_INTRINSICS
        if (packed512) {
          nz += PackRowAvx512(a, k, k_blocks, r * k, index, value, starts + r * stride) -
                r * k;
          continue;
        }
        if (packed2) {
          nz += PackRowAvx2(a, k, k_blocks, r * k, index, value, starts + r * stride) -
                r * k;
          continue;
        }
#endif
        int64_t pos = r * k;
        for (int64_t kb = 0; kb < k_blocks; ++kb) {
          starts[r * stride + kb] = pos;
          for (int64_t j = kb * kKBlock; j < std::min(k, (kb + 1) * kKBlock); ++j) {
            index[pos] = static_cast<int32_t>(j);
            value[pos] = a[j];
            pos += keep_zeros || a[j] != 0.0f;
          }
        }
        starts[r * stride + k_blocks] = pos;
        nz += pos - r * k;
      }
      total += nz;
    });
    return total.load();
  }
  // op(A) = Aᵀ with A stored [k, m]: row r of op(A) is column r of A. Each thread owns
  // a range of rows r and walks A's rows j in order, so each list is in increasing k;
  // Start(r, k_blocks) serves as row r's cursor.
  ParallelFor(m, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) starts[r * stride + k_blocks] = r * k;
    for (int64_t j = 0; j < k; ++j) {
      if (j % kKBlock == 0) {
        for (int64_t r = begin; r < end; ++r) {
          starts[r * stride + j / kKBlock] = starts[r * stride + k_blocks];
        }
      }
      const float* a = g.a + j * g.lda;
      for (int64_t r = begin; r < end; ++r) {
        int64_t& pos = starts[r * stride + k_blocks];
        index[pos] = static_cast<int32_t>(j);
        value[pos] = a[r];
        pos += keep_zeros || a[r] != 0.0f;
      }
    }
    int64_t nz = 0;
    for (int64_t r = begin; r < end; ++r) nz += starts[r * stride + k_blocks] - r * k;
    total += nz;
  });
  return total.load();
}

// Number of non-zeros of op(A), the m × k entries of A as stored (rows of k at lda, or
// of m when transposed): what BuildSparseRows would list, without the lists.
int64_t CountOperandA(const GemmArgs& g) {
  const int64_t rows = g.trans_a ? g.k : g.m, cols = g.trans_a ? g.m : g.k;
  if (g.lda == cols) return CountNonZeros(g.a, rows * cols);
  std::atomic<int64_t> total{0};
  ParallelFor(rows, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(cols, 1)),
              [&](int64_t begin, int64_t end) {
                int64_t nz = 0;
                for (int64_t r = begin; r < end; ++r)
                  nz += CountRange(g.a + r * g.lda, 0, cols);
                total += nz;
              });
  return total.load();
}

// C[rows, col .. col + 16·NV) from the lists and the column block b (its kKBlock-row
// tiles, row stride ldb). Each element is summed over increasing k, as one unbroken
// gather would: the running sum is stored and reloaded between k-blocks, which does
// not change the float result.
template <int NV, typename V>
EDBP_INLINE void SpmmBlock(const SparseRows& rows, const float* b, int64_t ldb, float* c,
                           int64_t ldc, int64_t row_begin, int64_t row_end) {
  constexpr int kN = kVecsFor<NV, V>;
  constexpr int kL = simd::kLanesOf<V>;
  for (int64_t kb = 0; kb < rows.k_blocks; ++kb) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      float* dst = c + r * ldc;
      V acc[kN];
#pragma GCC unroll 16
      for (int j = 0; j < kN; ++j) acc[j] = kb == 0 ? V{} : simd::LoadAs<V>(dst + j * kL);
      const int64_t first = rows.Start(r, kb);
      Gather<NV>(acc, rows.index.data() + first, rows.value.data() + first,
                 rows.Start(r, kb + 1) - first, b, ldb);
#pragma GCC unroll 16
      for (int j = 0; j < kN; ++j) simd::StoreAs(dst + j * kL, acc[j]);
    }
  }
}

// Columns [col_begin, col_end) of the block, one scalar sum per element (same order:
// increasing k).
EDBP_INLINE void SpmmTail(const SparseRows& rows, const float* b, int64_t ldb, float* c,
                          int64_t ldc, int64_t col_begin, int64_t col_end,
                          int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t col = col_begin; col < col_end; ++col) {
      float acc = 0.0f;
      for (int64_t e = rows.Start(r, 0); e < rows.Start(r, rows.k_blocks); ++e) {
        acc += rows.value[e] * b[rows.index[e] * ldb + col];
      }
      c[r * ldc + col] = acc;
    }
  }
}

// One column block of C, `width` ≤ kBlock columns from c (rows [row_begin, row_end)),
// from the matching columns b of op(B).
template <CpuIsa kIsa>
EDBP_INLINE void SpmmItemImpl(const SparseRows& rows, const float* b, int64_t ldb,
                              float* c, int64_t ldc, int64_t width, int64_t row_begin,
                              int64_t row_end) {
#define EDBP_CALL(NV) \
  SpmmBlock<NV, simd::NativeF<kIsa>>(rows, b, ldb, c, ldc, row_begin, row_end)
  switch (width / kLanes) {
    case 4:
      EDBP_CALL(4);
      break;
    case 3:
      EDBP_CALL(3);
      break;
    case 2:
      EDBP_CALL(2);
      break;
    case 1:
      EDBP_CALL(1);
      break;
    default:
      break;
  }
#undef EDBP_CALL
  const int64_t vec_width = width / kLanes * kLanes;
  if (vec_width < width)
    SpmmTail(rows, b, ldb, c, ldc, vec_width, width, row_begin, row_end);
}
EDBP_CPU_DISPATCH(void, SpmmItem,
                  (const SparseRows& rows, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int64_t width, int64_t row_begin, int64_t row_end),
                  (rows, b, ldb, c, ldc, width, row_begin, row_end))

template <CpuIsa kIsa>
EDBP_INLINE void TransposeGroupImpl(const float* src, int64_t ld_src, int64_t count,
                                    int64_t cols, float* dst, int64_t ld_dst) {
  simd::TransposeBlock<simd::NativeF<kIsa>>(src, ld_src, count, cols, dst, ld_dst);
}
EDBP_CPU_DISPATCH(void, TransposeGroup,
                  (const float* src, int64_t ld_src, int64_t count, int64_t cols,
                   float* dst, int64_t ld_dst),
                  (src, ld_src, count, cols, dst, ld_dst))

// ---- convolution helpers --------------------------------------------------------------

// dst[p · stride + c] = src[c · pixels + p] for c < channels (and 0 in the padding
// lanes c in [channels, stride)).
template <CpuIsa kIsa>
EDBP_INLINE void ToPixelMajor(const float* src, int64_t channels, int64_t pixels,
                              int64_t stride, float* dst) {
  simd::TransposeBlock<simd::NativeF<kIsa>>(src, pixels, channels, pixels, dst, stride);
  if (stride > channels) {
    for (int64_t p = 0; p < pixels; ++p) {
      std::fill(dst + p * stride + channels, dst + (p + 1) * stride, 0.0f);
    }
  }
}

// Per image: the non-zeros (or every entry: keep_zeros) of a [channels, pixels] tensor
// as per-pixel lists (channel · scale, value) in increasing channel order; list q
// starts at q · room, room being channels rounded up to 16 so that a list can be
// copied in whole vectors.
// `scale` is the weight row stride, so the gather needs no multiply.
struct PixelLists {
  int64_t room = 0;
  Buffer<int32_t> channel;
  Buffer<float> value;
  Buffer<int32_t> count;
};

template <CpuIsa kIsa>
EDBP_INLINE void BuildPixelLists(const float* x, int64_t channels, int64_t pixels,
                                 int64_t scale, bool keep_zeros, PixelLists& l) {
  l.room = RoundUp(channels, kLanes);
  int32_t* count = Grow(l.count, pixels);
  int32_t* channel = Grow(l.channel, pixels * l.room);
  float* value = Grow(l.value, pixels * l.room);
#ifdef EDBP_HAVE_X86_INTRINSICS
  if ((UseAvx512Intrinsics() || UseAvx2Intrinsics()) && !keep_zeros) {
    thread_local Buffer<float> pixel_major;
    float* xp = Grow(pixel_major, pixels * l.room);
    ToPixelMajor<kIsa>(x, channels, pixels, l.room, xp);
    if (UseAvx512Intrinsics()) {
      PackPixelListsAvx512(xp, pixels, l.room, scale, channel, value, count);
    } else {
      PackPixelListsAvx2(xp, pixels, l.room, scale, channel, value, count);
    }
    return;
  }
#endif
  // Branch-free: every channel is written at the pixel's next free slot, which advances
  // only past non-zeros; a zero's write stays inside the pixel's own room (slot n ≤ c).
  for (int64_t q = 0; q < pixels; ++q) {
    const int64_t first = q * l.room;
    int32_t n = 0;
    for (int64_t c = 0; c < channels; ++c) {
      const float v = x[c * pixels + q];
      channel[first + n] = static_cast<int32_t>(c * scale);
      value[first + n] = v;
      n += keep_zeros || v != 0.0f;
    }
    count[q] = n;
  }
}

// Per image: one list per (source row, gather column) that concatenates, in tap order
// kj = 0 .. kw-1, the pixel lists of the kw pixels one row of the kernel covers, each
// entry's offset advanced by its tap's block of weights (kj · rows · pad floats). The
// gather of a kernel row is then one unbroken loop over ~kw times as many entries
// instead of kw short ones (each with its own loop set-up and exit branch), in the
// same order of terms, so the sums are bit for bit those of the per-tap loops. List w
// starts at w · room, room = kw · the pixel lists' room.
struct WindowLists {
  int64_t room = 0;
  Buffer<int32_t> offset;
  Buffer<float> value;
  Buffer<int32_t> count;
};

// Windows of `rows` × `cols`; source(col, kj) is the pixel column that kernel column kj
// reads for gather column col, or -1 for none; pixel (r, source) is list r · width +
// source of `l`. Branch-free copies: each pixel list is copied in whole vectors (its
// full room) at the window's next free slot, which advances by the list's count; what
// lies past the count is overwritten by the next copy or never read.
template <typename VF, typename VI, typename SourceColumn>
EDBP_INLINE void BuildWindowLists(const PixelLists& l, int64_t rows, int64_t cols,
                                  int64_t width, int64_t kw, int64_t tap_stride,
                                  SourceColumn source, WindowLists& win) {
  win.room = kw * l.room;
  int32_t* count = Grow(win.count, rows * cols);
  int32_t* offset = Grow(win.offset, rows * cols * win.room);
  float* value = Grow(win.value, rows * cols * win.room);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t w = r * cols + col;
      int32_t* dst_off = offset + w * win.room;
      float* dst_val = value + w * win.room;
      int64_t n = 0;
      for (int64_t kj = 0; kj < kw; ++kj) {
        const int64_t src = source(col, kj);
        if (src < 0) continue;
        const int64_t q = r * width + src;
        const int32_t* src_off = l.channel.data() + q * l.room;
        const float* src_val = l.value.data() + q * l.room;
        const VI add = VI{} + static_cast<int32_t>(kj * tap_stride);
        for (int64_t c0 = 0; c0 < l.room; c0 += simd::kLanesOf<VF>) {
          simd::StoreAs(dst_off + n + c0, simd::LoadAs<VI>(src_off + c0) + add);
          simd::StoreAs(dst_val + n + c0, simd::LoadAs<VF>(src_val + c0));
        }
        n += l.count[q];
      }
      count[w] = static_cast<int32_t>(n);
    }
  }
}

// dst[c · pixels + p] = src[p · stride + c] for c < channels.
template <CpuIsa kIsa>
EDBP_INLINE void ToChannelMajor(const float* src, int64_t channels, int64_t pixels,
                                int64_t stride, float* dst) {
  simd::TransposeBlock<simd::NativeF<kIsa>>(src, stride, pixels, channels, dst, pixels);
}

// W [c_out, c_in, kh, kw] → [kh, kw, rows, cols] with (rows, cols) = (c_in, c_out) when
// out_major (forward, filter) or (c_out, c_in) otherwise (backward data); cols padded
// with zeros to `cols_pad`.
void RelayoutWeights(const Conv2dShape& s, const float* w, bool out_major,
                     int64_t cols_pad, Buffer<float>& out) {
  const int64_t taps = s.kh * s.kw;
  const int64_t rows = out_major ? s.c_in : s.c_out;
  float* dst = Grow(out, taps * rows * cols_pad);
  std::fill(dst, dst + taps * rows * cols_pad, 0.0f);
  for (int64_t co = 0; co < s.c_out; ++co) {
    for (int64_t c = 0; c < s.c_in; ++c) {
      for (int64_t tap = 0; tap < taps; ++tap) {
        const float v = w[(co * s.c_in + c) * taps + tap];
        const int64_t row = out_major ? c : co, col = out_major ? co : c;
        dst[(tap * rows + row) * cols_pad + col] = v;
      }
    }
  }
}

// y_pm[p, block] for one image (forward) or dx_pm[q, block] (backward data): for each
// row ki of the kernel, every result pixel adds the window that row reads, with the
// weights of that kernel row (kw · rows · pad floats, mostly in L1) at `w_row`. `Src`
// maps (result row, ki) to the window row, or -1. Each pixel's sum runs over the taps
// in order, then its input's channels.
template <int NV, typename V, typename SourceRow>
EDBP_INLINE void GatherRows(const WindowLists& win, int64_t win_cols, int64_t out_rows,
                            int64_t out_cols, int64_t kh, const float* w,
                            int64_t row_stride, int64_t pad, int64_t block,
                            SourceRow source, float* pm) {
  constexpr int kN = kVecsFor<NV, V>;
  constexpr int kL = simd::kLanesOf<V>;
  for (int64_t p = 0; p < out_rows * out_cols; ++p) {
#pragma GCC unroll 16
    for (int j = 0; j < kN; ++j) simd::StoreAs(pm + p * pad + block + j * kL, V{});
  }
  for (int64_t ki = 0; ki < kh; ++ki) {
    const float* row_base = w + ki * row_stride + block;
    for (int64_t r = 0; r < out_rows; ++r) {
      const int64_t src = source(r, ki);
      if (src < 0) continue;
      for (int64_t col = 0; col < out_cols; ++col) {
        float* dst = pm + (r * out_cols + col) * pad + block;
        const int64_t wi = src * win_cols + col;
        V acc[kN];
#pragma GCC unroll 16
        for (int j = 0; j < kN; ++j) acc[j] = simd::LoadAs<V>(dst + j * kL);
        Gather<NV>(acc, win.offset.data() + wi * win.room,
                   win.value.data() + wi * win.room, win.count[wi], row_base, 1);
#pragma GCC unroll 16
        for (int j = 0; j < kN; ++j) simd::StoreAs(dst + j * kL, acc[j]);
      }
    }
  }
}

// Per image: the non-zeros (or every entry: keep_zeros) of a [channels, h, w] tensor
// as per-channel lists of (row, column, value) in increasing pixel order; list c
// starts at c · h · w.
struct ChannelLists {
  Buffer<int32_t> row, col;
  Buffer<float> value;
  Buffer<int32_t> count;
};

EDBP_INLINE void BuildChannelLists(const float* x, int64_t channels, int64_t h, int64_t w,
                                   bool keep_zeros, ChannelLists& l) {
  const int64_t pixels = h * w;
  int32_t* count = Grow(l.count, channels);
  int32_t* row = Grow(l.row, channels * pixels);
  int32_t* col = Grow(l.col, channels * pixels);
  float* value = Grow(l.value, channels * pixels);
  // Branch-free, as BuildPixelLists: a zero's write stays inside the channel's room.
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * pixels;
    int64_t slot = c * pixels;
    for (int64_t iy = 0; iy < h; ++iy) {
      for (int64_t ix = 0; ix < w; ++ix) {
        const float v = plane[iy * w + ix];
        row[slot] = static_cast<int32_t>(iy);
        col[slot] = static_cast<int32_t>(ix);
        value[slot] = v;
        slot += keep_zeros || v != 0.0f;
      }
    }
    count[c] = static_cast<int32_t>(slot - c * pixels);
  }
}

// acc[kh, kw, c_in, cpad] += Σ_{x[c, iy, ix] ≠ 0} x · dy[p(iy, ix, tap), :] for one
// image: each (tap, channel) row of the filter gradient is summed in registers over
// the channel's non-zero inputs, reading the output-gradient row each one meets.
template <int NV, bool kStrided, typename V>
EDBP_INLINE void ConvFilterBlock(const Conv2dShape& s, const ChannelLists& l,
                                 const float* dy_pm, int64_t cpad, int64_t block,
                                 float* acc) {
  constexpr int kN = kVecsFor<NV, V>;
  constexpr int kL = simd::kLanesOf<V>;
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = s.h * s.w;
  for (int64_t c = 0; c < s.c_in; ++c) {
    const int64_t first = c * pixels, count = l.count[c];
    if (count == 0) continue;
    const int32_t* rows = l.row.data() + first;
    const int32_t* cols = l.col.data() + first;
    const float* vals = l.value.data() + first;
    for (int64_t ki = 0; ki < s.kh; ++ki) {
      const int64_t off_y = s.pad_h - ki * s.dil_h;
      for (int64_t kj = 0; kj < s.kw; ++kj) {
        const int64_t off_x = s.pad_w - kj * s.dil_w;
        float* dst = acc + ((ki * s.kw + kj) * s.c_in + c) * cpad + block;
        V sum[kN];
#pragma GCC unroll 16
        for (int j = 0; j < kN; ++j) sum[j] = simd::LoadAs<V>(dst + j * kL);
        for (int64_t e = 0; e < count; ++e) {
          // Output pixel that reads input (iy, ix) through this tap, if any.
          const int64_t ty = rows[e] + off_y, tx = cols[e] + off_x;
          int64_t oy = ty, ox = tx;
          if constexpr (kStrided) {
            if (ty < 0 || tx < 0 || ty % s.stride_h != 0 || tx % s.stride_w != 0)
              continue;
            oy = ty / s.stride_h;
            ox = tx / s.stride_w;
          }
          // Negative values wrap to huge unsigned ones: one compare per axis.
          if (static_cast<uint64_t>(oy) >= static_cast<uint64_t>(oh) ||
              static_cast<uint64_t>(ox) >= static_cast<uint64_t>(ow)) {
            continue;
          }
          const float v = vals[e];
          const float* g = dy_pm + (oy * ow + ox) * cpad + block;
          PinPointer(g);
#pragma GCC unroll 16
          for (int j = 0; j < kN; ++j) sum[j] += v * simd::LoadAs<V>(g + j * kL);
        }
#pragma GCC unroll 16
        for (int j = 0; j < kN; ++j) simd::StoreAs(dst + j * kL, sum[j]);
      }
    }
  }
}

// Register blocks of a channel count padded to 16: NV vectors of 16 at `block`.
#define EDBP_FOR_EACH_BLOCK(cpad, CALL)                      \
  for (int64_t block = 0; block < (cpad); block += kBlock) { \
    switch (std::min(kBlock, (cpad)-block) / kLanes) {       \
      case 4:                                                \
        CALL(4);                                             \
        break;                                               \
      case 3:                                                \
        CALL(3);                                             \
        break;                                               \
      case 2:                                                \
        CALL(2);                                             \
        break;                                               \
      default:                                               \
        CALL(1);                                             \
        break;                                               \
    }                                                        \
  }

// One image of the forward (data = false: x → y, weights wt [kh, kw, c_in, pad]) or of
// the backward data (data = true: dy → dx, weights wd [kh, kw, c_out, pad]): lists of
// the sparse operand's non-zeros per pixel, joined into one list per kernel row's
// window, the gather into a pixel-major result of `pad` channels, then back to
// channel-major.
template <CpuIsa kIsa>
EDBP_INLINE void ConvGatherImageImpl(const Conv2dShape& s, bool data, const float* in,
                                     const float* w, int64_t pad, bool keep_zeros,
                                     float* out) {
  thread_local PixelLists lists;
  thread_local WindowLists windows;
  thread_local Buffer<float> result;
  const int64_t oh = s.out_h(), ow = s.out_w(), pixels = s.h * s.w, p_out = oh * ow;
  const int64_t rows = data ? s.c_out : s.c_in;  // weight rows per tap
  const int64_t row_stride = s.kw * rows * pad;  // floats per kernel row of weights
  BuildPixelLists<kIsa>(in, rows, data ? p_out : pixels, pad, keep_zeros, lists);
  float* pm = Grow(result, (data ? pixels : p_out) * pad);
  if (!data) {
    // Window (iy, ox): input pixels (iy, ox·stride - pad + kj·dil).
    BuildWindowLists<simd::NativeF<kIsa>, simd::NativeI<kIsa>>(
        lists, s.h, ow, s.w, s.kw, rows * pad,
        [&](int64_t ox, int64_t kj) {
          const int64_t ix = ox * s.stride_w - s.pad_w + kj * s.dil_w;
          return ix >= 0 && ix < s.w ? ix : -1;
        },
        windows);
    const auto source_row = [&](int64_t oy, int64_t ki) {
      const int64_t iy = oy * s.stride_h - s.pad_h + ki * s.dil_h;
      return iy >= 0 && iy < s.h ? iy : -1;
    };
#define EDBP_CALL(NV)                                                                \
  GatherRows<NV, simd::NativeF<kIsa>>(windows, ow, oh, ow, s.kh, w, row_stride, pad, \
                                      block, source_row, pm)
    EDBP_FOR_EACH_BLOCK(pad, EDBP_CALL)
#undef EDBP_CALL
  } else {
    // The output pixel that reads input coordinate i through kernel index k, if any.
    const auto through = [](int64_t i, int64_t k, int64_t stride, int64_t padding,
                            int64_t dil, int64_t size) -> int64_t {
      const int64_t t = i + padding - k * dil;
      // (stride 1 skips the integer divisions)
      if (t < 0 || (stride != 1 && t % stride != 0)) return -1;
      const int64_t o = stride == 1 ? t : t / stride;
      return o < size ? o : -1;
    };
    // Window (oy, ix): output-gradient pixels (oy, through(ix, kj)).
    BuildWindowLists<simd::NativeF<kIsa>, simd::NativeI<kIsa>>(
        lists, oh, s.w, ow, s.kw, rows * pad,
        [&](int64_t ix, int64_t kj) {
          return through(ix, kj, s.stride_w, s.pad_w, s.dil_w, ow);
        },
        windows);
    const auto source_row = [&](int64_t iy, int64_t ki) {
      return through(iy, ki, s.stride_h, s.pad_h, s.dil_h, oh);
    };
#define EDBP_CALL(NV)                                                                   \
  GatherRows<NV, simd::NativeF<kIsa>>(windows, s.w, s.h, s.w, s.kh, w, row_stride, pad, \
                                      block, source_row, pm)
    EDBP_FOR_EACH_BLOCK(pad, EDBP_CALL)
#undef EDBP_CALL
  }
  ToChannelMajor<kIsa>(pm, data ? s.c_in : s.c_out, data ? pixels : p_out, pad, out);
}
EDBP_CPU_DISPATCH(void, ConvGatherImage,
                  (const Conv2dShape& s, bool data, const float* in, const float* w,
                   int64_t pad, bool keep_zeros, float* out),
                  (s, data, in, w, pad, keep_zeros, out))

template <CpuIsa kIsa>
EDBP_INLINE void ConvFilterImageImpl(const Conv2dShape& s, const float* x,
                                     const float* dy, int64_t cpad, bool keep_zeros,
                                     float* acc) {
  thread_local ChannelLists lists;
  thread_local Buffer<float> grad;
  const int64_t p_out = s.out_h() * s.out_w();
  BuildChannelLists(x, s.c_in, s.h, s.w, keep_zeros, lists);
  float* dy_pm = Grow(grad, p_out * cpad);
  ToPixelMajor<kIsa>(dy, s.c_out, p_out, cpad, dy_pm);
  if (s.stride_h == 1 && s.stride_w == 1) {
#define EDBP_CALL(NV) \
  ConvFilterBlock<NV, false, simd::NativeF<kIsa>>(s, lists, dy_pm, cpad, block, acc)
    EDBP_FOR_EACH_BLOCK(cpad, EDBP_CALL)
#undef EDBP_CALL
  } else {
#define EDBP_CALL(NV) \
  ConvFilterBlock<NV, true, simd::NativeF<kIsa>>(s, lists, dy_pm, cpad, block, acc)
    EDBP_FOR_EACH_BLOCK(cpad, EDBP_CALL)
#undef EDBP_CALL
  }
}
EDBP_CPU_DISPATCH(void, ConvFilterImage,
                  (const Conv2dShape& s, const float* x, const float* dy, int64_t cpad,
                   bool keep_zeros, float* acc),
                  (s, x, dy, cpad, keep_zeros, acc))

// The filter gradient's chunking, as in the dense path: at most this many chunks of
// samples, fixed by the shape.
constexpr int64_t kFilterChunks = 8;

}  // namespace

SparseMode GetSparseMode() { return Mode().load(std::memory_order_relaxed); }
void SetSparseMode(SparseMode mode) { Mode().store(mode, std::memory_order_relaxed); }

bool ParseSparseMode(const char* text, SparseMode* mode) {
  if (std::strcmp(text, "auto") == 0) {
    *mode = SparseMode::kAuto;
  } else if (std::strcmp(text, "off") == 0) {
    *mode = SparseMode::kOff;
  } else if (std::strcmp(text, "always") == 0) {
    *mode = SparseMode::kAlways;
  } else if (std::strcmp(text, "blas") == 0) {
    *mode = SparseMode::kBlas;
  } else {
    return false;
  }
  return true;
}

std::vector<OperandDensity> GetOperandDensities() {
  DensityLog& log = Log();
  std::lock_guard<std::mutex> lock(log.mu);
  std::vector<OperandDensity> out;
  for (const auto& [key, d] : log.by_key) out.push_back(d);
  return out;
}

void ResetOperandDensities() {
  DensityLog& log = Log();
  std::lock_guard<std::mutex> lock(log.mu);
  log.by_key.clear();
}

const SparseCrossover& SparseCrossoverFor(CpuIsa isa) {
  // bench/RESULTS.md, "Kernels per instruction-set level" (AMD EPYC with AVX-512,
  // 2 cores; OpenBLAS told the matching core type, so that the dense side is what a
  // CPU of that level runs), from the repository root, for LEVEL and CORE
  // avx512/default, avx2/Haswell, portable/Sandybridge:
  //   OPENBLAS_CORETYPE=CORE build/bench/edbp_sparse_kernels_bench --iters 3 --isa LEVEL
  static constexpr SparseCrossover kAvx512 = {.gemm = 0.6,
                                              .gemm_transposed_a = 0.6,
                                              .gemm_transposed_b = 0.7,
                                              .conv_forward = 0.9,
                                              .conv_backward_data = 0.9,
                                              .conv_backward_filter = 0.9};
  static constexpr SparseCrossover kAvx2 = {.gemm = 0.5,
                                            .gemm_transposed_a = 0.5,
                                            .gemm_transposed_b = 0.5,
                                            .conv_forward = 0.9,
                                            .conv_backward_data = 0.9,
                                            .conv_backward_filter = 0.7};
  static constexpr SparseCrossover kPortable = {.gemm = 0.03,
                                                .gemm_transposed_a = 0.03,
                                                .gemm_transposed_b = 0.02,
                                                .conv_forward = 0.6,
                                                .conv_backward_data = 0.6,
                                                .conv_backward_filter = 0.05};
  switch (isa) {
    case CpuIsa::kAvx512:
      return kAvx512;
    case CpuIsa::kAvx2:
      return kAvx2;
    case CpuIsa::kPortable:
      break;
  }
  return kPortable;
}

const SparseCrossover& GetSparseCrossover() { return SparseCrossoverFor(ActiveCpuIsa()); }

bool SparseGemm(const GemmArgs& g) {
  if (g.alpha != 1.0f || g.beta != 0.0f || g.k == 0) return false;
  if (g.k > int64_t{0x7fffffff}) return false;
  const SparseMode mode = GetSparseMode();
  if (mode == SparseMode::kBlas) return false;
  // kAuto and kOff count op(A)'s non-zeros first and build the lists only for the
  // event-driven path: where the density sends the call to BLAS, auto then costs BLAS
  // plus one vectorised count, not BLAS plus the lists (bench/RESULTS.md, issue 23:
  // up to 13 % over BLAS at high density before). kOff builds its lists once, with
  // every entry.
  // Plain references: the lambdas below run on pool threads, where the name of a
  // thread_local would denote that thread's own instance.
  thread_local SparseRows lists;
  SparseRows& rows = lists;
  Path path = Path::kSkip;
  if (mode != SparseMode::kAlways) {
    const SparseCrossover& x = GetSparseCrossover();
    path = ChoosePathFor(
        Key("Gemm", g.trans_a ? "A^T" : "A", {g.m, g.k}) + (g.trans_b ? " B^T" : " B") +
            "[" + std::to_string(g.k) + "," + std::to_string(g.n) + "]",
        CountOperandA(g), g.m * g.k,
        g.trans_b ? x.gemm_transposed_b : (g.trans_a ? x.gemm_transposed_a : x.gemm));
    if (path == Path::kBlas) return false;
  }
  BuildSparseRows(g, KeepZeros(path), rows);
  // Work items: column blocks × row blocks; each output element belongs to one item.
  // An item's rows of C (kRowBlock × kBlock floats, 64 KiB) stay in L2 across the
  // k-blocks. op(B) [k, n] by column blocks of kBlock: B itself (row stride ldb) when
  // not transposed; else the block's rows of B transposed into a per-thread buffer
  // (k × width floats, 784 KiB for the linear forward's k = 3136), so that the block's
  // rows are contiguous (a row stride of n floats, 4 KiB for n = 1024, would map a
  // tile's rows to the same L1 sets). A thread packs a block once for the consecutive
  // items of it that it takes (all of them where m ≤ kRowBlock), and never holds more
  // than one block: a copy of the whole of Bᵀ (12.8 MB for FC_1) would stay resident
  // as scratch for the rest of the run.
  constexpr int64_t kRowBlock = 256;
  const int64_t col_blocks = (g.n + kBlock - 1) / kBlock;
  const int64_t row_blocks = (g.m + kRowBlock - 1) / kRowBlock;
  ParallelFor(col_blocks * row_blocks, 1, [&](int64_t begin, int64_t end) {
    thread_local Buffer<float> block_b;
    float* packed = g.trans_b ? Grow(block_b, g.k * kBlock) : nullptr;
    int64_t packed_cb = -1;  // the column block in block_b, for this piece
    for (int64_t item = begin; item < end; ++item) {
      const int64_t cb = item / row_blocks, rb = item % row_blocks;
      const int64_t col = cb * kBlock, width = std::min(kBlock, g.n - col);
      const float* b = g.b + col;
      int64_t ldb = g.ldb;
      if (g.trans_b) {
        if (packed_cb != cb) {
          // B is [n, k]: its rows col .. col + width become the columns of op(B).
          TransposeGroup(g.b + col * g.ldb, g.ldb, width, g.k, packed, width);
          packed_cb = cb;
        }
        b = packed;
        ldb = width;
      }
      SpmmItem(rows, b, ldb, g.c + col, g.ldc, width, rb * kRowBlock,
               std::min(g.m, (rb + 1) * kRowBlock));
    }
  });
  return true;
}

bool SparseConv2dForward(const Conv2dForwardArgs& args) {
  const Conv2dShape& s = args.shape;
  const int64_t in_size = s.c_in * s.h * s.w, out_size = s.c_out * s.out_h() * s.out_w();
  const Path path = ChoosePath(Key("Conv2dForward", "x", {s.n, s.c_in, s.h, s.w}), args.x,
                               s.n * in_size, GetSparseCrossover().conv_forward);
  if (path == Path::kBlas) return false;
  const int64_t cpad = RoundUp(s.c_out, kLanes);
  thread_local Buffer<float> wt;
  RelayoutWeights(s, args.w, /*out_major=*/true, cpad, wt);
  const float* wt_data = wt.data();
  ParallelFor(s.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      ConvGatherImage(s, /*data=*/false, args.x + i * in_size, wt_data, cpad,
                      KeepZeros(path), args.y + i * out_size);
    }
  });
  return true;
}

bool SparseConv2dBackwardData(const Conv2dBackwardDataArgs& args) {
  const Conv2dShape& s = args.shape;
  const int64_t in_size = s.c_in * s.h * s.w, out_size = s.c_out * s.out_h() * s.out_w();
  const Path path =
      ChoosePath(Key("Conv2dBackwardData", "dy", {s.n, s.c_out, s.out_h(), s.out_w()}),
                 args.dy, s.n * out_size, GetSparseCrossover().conv_backward_data);
  if (path == Path::kBlas) return false;
  const int64_t cipad = RoundUp(s.c_in, kLanes);
  thread_local Buffer<float> wd;
  RelayoutWeights(s, args.w, /*out_major=*/false, cipad, wd);
  const float* wd_data = wd.data();
  ParallelFor(s.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      ConvGatherImage(s, /*data=*/true, args.dy + i * out_size, wd_data, cipad,
                      KeepZeros(path), args.dx + i * in_size);
    }
  });
  return true;
}

bool SparseConv2dBackwardFilter(const Conv2dBackwardFilterArgs& args) {
  const Conv2dShape& s = args.shape;
  const int64_t in_size = s.c_in * s.h * s.w, out_size = s.c_out * s.out_h() * s.out_w();
  if (s.n == 0) return false;  // the dense path zero-fills
  const Path path =
      ChoosePath(Key("Conv2dBackwardFilter", "x", {s.n, s.c_in, s.h, s.w}), args.x,
                 s.n * in_size, GetSparseCrossover().conv_backward_filter);
  if (path == Path::kBlas) return false;
  const int64_t cpad = RoundUp(s.c_out, kLanes);
  const int64_t taps = s.kh * s.kw;
  const int64_t acc_size = taps * s.c_in * cpad;
  const int64_t chunks = std::min(s.n, kFilterChunks);
  thread_local Buffer<float> partials;
  float* part = Grow(partials, chunks * acc_size);
  std::fill(part, part + chunks * acc_size, 0.0f);
  ParallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      float* acc = part + c * acc_size;
      for (int64_t i = s.n * c / chunks; i < s.n * (c + 1) / chunks; ++i) {
        ConvFilterImage(s, args.x + i * in_size, args.dy + i * out_size, cpad,
                        KeepZeros(path), acc);
      }
    }
  });
  // dW in [c_out, c_in, kh, kw]: the chunks' partials summed in chunk order.
  ParallelFor(s.c_out, 1, [&](int64_t begin, int64_t end) {
    for (int64_t co = begin; co < end; ++co) {
      for (int64_t c = 0; c < s.c_in; ++c) {
        for (int64_t tap = 0; tap < taps; ++tap) {
          const int64_t at = (tap * s.c_in + c) * cpad + co;
          float sum = part[at];
          for (int64_t k = 1; k < chunks; ++k) sum += part[k * acc_size + at];
          args.dw[(co * s.c_in + c) * taps + tap] = sum;
        }
      }
    }
  });
  return true;
}

}  // namespace edbp::kernels::cpu

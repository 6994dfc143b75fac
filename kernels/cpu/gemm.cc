#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sparse.h"
#include "kernels/op_checks.h"

namespace edbp::kernels::cpu {
namespace {

// Products below this many multiply-adds run as one sgemm call.
constexpr int64_t kSplitMacs = int64_t{1} << 21;
// Row blocks are at least this tall (and a multiple of kRowAlign) so each block's
// sgemm still amortises its packing of B.
constexpr int64_t kMinBlockRows = 64;
constexpr int64_t kRowAlign = 16;
constexpr int64_t kMaxBlocks = 8;

void SgemmRows(const GemmArgs& g, int64_t row_begin, int64_t rows) {
  // Row i of op(A) is row i of A, or column i of A when A is stored transposed.
  const float* a = g.trans_a ? g.a + row_begin : g.a + row_begin * g.lda;
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
              g.trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(rows),
              static_cast<blasint>(g.n), static_cast<blasint>(g.k), g.alpha, a,
              static_cast<blasint>(g.lda), g.b, static_cast<blasint>(g.ldb), g.beta,
              g.c + row_begin * g.ldc, static_cast<blasint>(g.ldc));
}

}  // namespace

void Gemm(const GemmArgs& args) {
  const GemmArgs& g = args;
  CheckGemmArgs(g);
  if (g.m == 0 || g.n == 0) return;
  if (SparseGemm(g)) return;  // op(A) mostly zero: the event-driven path (sparse.h)

  // The row blocks depend only on the shape, never on the thread count: OpenBLAS
  // picks its kernels by size, so a thread-dependent split could change the bits.
  if (g.m * g.n * g.k < kSplitMacs || g.m < 2 * kMinBlockRows) {
    SgemmRows(g, 0, g.m);
    return;
  }
  const int64_t per_block = (g.m + kMaxBlocks - 1) / kMaxBlocks;
  const int64_t block_rows =
      std::max(kMinBlockRows, (per_block + kRowAlign - 1) / kRowAlign * kRowAlign);
  const int64_t blocks = (g.m + block_rows - 1) / block_rows;
  ParallelFor(blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t row = b * block_rows;
      SgemmRows(g, row, std::min(block_rows, g.m - row));
    }
  });
}

}  // namespace edbp::kernels::cpu

#include "kernels/cuda/gemm.h"

#include <algorithm>
#include <cstdint>

#include "kernels/check.h"
#include "kernels/cuda/cuda_check.h"

namespace edbp::kernels::cuda {

absl::Status CublasGemm(cublasHandle_t handle, const GemmArgs& g) {
  EDBP_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0)
      << "Gemm: m=" << g.m << " n=" << g.n << " k=" << g.k;
  EDBP_CHECK(g.lda >= std::max<int64_t>(1, g.trans_a ? g.m : g.k))
      << "Gemm: lda=" << g.lda << " too small";
  EDBP_CHECK(g.ldb >= std::max<int64_t>(1, g.trans_b ? g.k : g.n))
      << "Gemm: ldb=" << g.ldb << " too small";
  EDBP_CHECK(g.ldc >= std::max<int64_t>(1, g.n)) << "Gemm: ldc=" << g.ldc << " too small";
  constexpr int64_t kIntMax = 0x7fffffff;  // cublasSgemm takes 32-bit sizes
  EDBP_CHECK(std::max({g.m, g.n, g.k, g.lda, g.ldb, g.ldc}) <= kIntMax)
      << "Gemm: size exceeds the 32-bit cuBLAS interface";
  if (g.m == 0 || g.n == 0) return absl::OkStatus();
  // Row-major X is column-major Xᵀ: C[m,n] row-major = (op(B)ᵀ op(A)ᵀ) column-major
  // [n,m], so B goes first with the same transpose flags and the same leading dims.
  const float alpha = g.alpha, beta = g.beta;
  EDBP_CUBLAS_RETURN_IF_ERROR(cublasSgemm(
      handle, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
      g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(g.n), static_cast<int>(g.m),
      static_cast<int>(g.k), &alpha, g.b, static_cast<int>(g.ldb), g.a,
      static_cast<int>(g.lda), &beta, g.c, static_cast<int>(g.ldc)));
  return absl::OkStatus();
}

}  // namespace edbp::kernels::cuda

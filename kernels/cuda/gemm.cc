#include "kernels/cuda/gemm.h"

#include <algorithm>
#include <cstdint>

#include "base/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/op_checks.h"

namespace edbp::kernels::cuda {

absl::Status CublasGemm(cublasHandle_t handle, const GemmArgs& g) {
  CheckGemmArgs(g);
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

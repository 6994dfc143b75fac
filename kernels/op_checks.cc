#include "kernels/op_checks.h"

#include <algorithm>

#include "base/check.h"

namespace edbp::kernels {

void CheckGemmArgs(const GemmArgs& g) {
  EDBP_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0)
      << "Gemm: m=" << g.m << " n=" << g.n << " k=" << g.k;
  EDBP_CHECK(g.lda >= std::max<int64_t>(1, g.trans_a ? g.m : g.k))
      << "Gemm: lda=" << g.lda << " too small";
  EDBP_CHECK(g.ldb >= std::max<int64_t>(1, g.trans_b ? g.k : g.n))
      << "Gemm: ldb=" << g.ldb << " too small";
  EDBP_CHECK(g.ldc >= std::max<int64_t>(1, g.n)) << "Gemm: ldc=" << g.ldc << " too small";
  constexpr int64_t kIntMax = 0x7fffffff;  // cblas_sgemm and cublasSgemm take int sizes
  EDBP_CHECK(std::max({g.m, g.n, g.k, g.lda, g.ldb, g.ldc}) <= kIntMax)
      << "Gemm: size exceeds the 32-bit BLAS interface";
}

void CheckNeuronForwardArgs(const NeuronForwardArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.n >= 0);
  EDBP_CHECK(a.input && a.o && (a.du_t == nullptr || a.du != nullptr))
      << "NeuronForward: input and o are required, and du wherever du_t is";
}

void CheckNeuronBackwardArgs(const NeuronBackwardArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.n >= 0);
  EDBP_CHECK(a.e && a.o && a.du && a.syn_a && a.partial_a &&
             (a.grad_w != nullptr || a.grad_w_sum != nullptr) &&
             (a.grad_in == nullptr || a.du_t != nullptr))
      << "NeuronBackward: null argument (grad_in, with du_t, may be null, and one of "
         "grad_w and grad_w_sum)";
}

void CheckPool2dShape(const Pool2dShape& s, const char* op) {
  EDBP_CHECK(s.n >= 0 && s.c >= 0 && s.kh >= 1 && s.kw >= 1 && s.h >= s.kh && s.w >= s.kw)
      << op << ": bad shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w
      << " kernel=" << s.kh << "x" << s.kw;
}

void CheckLossArgs(const char* op, int64_t steps, int64_t batch, int64_t classes,
                   const float* o, const int32_t* labels, const float* grad,
                   const double* loss) {
  EDBP_CHECK(steps >= 1 && batch >= 0 && classes >= 1)
      << op << ": steps=" << steps << " batch=" << batch << " classes=" << classes;
  EDBP_CHECK(loss != nullptr) << op << ": null loss";
  if (batch > 0) {
    EDBP_CHECK(o != nullptr && labels != nullptr && grad != nullptr)
        << op << ": null o, labels or grad";
  }
}

void CheckSgdStepArgs(const SgdStepArgs& a) {
  EDBP_CHECK(a.n >= 0) << "SgdStep: n=" << a.n;
  if (a.n > 0) EDBP_CHECK(a.param != nullptr && a.grad != nullptr) << "SgdStep: null";
}

void CheckAdamStepArgs(const AdamStepArgs& a) {
  EDBP_CHECK(a.n >= 0) << "AdamStep: n=" << a.n;
  EDBP_CHECK(a.step >= 1) << "AdamStep: step=" << a.step;
  if (a.n > 0) {
    EDBP_CHECK(a.param != nullptr && a.grad != nullptr && a.exp_avg != nullptr &&
               a.exp_avg_sq != nullptr)
        << "AdamStep: null";
  }
}

}  // namespace edbp::kernels

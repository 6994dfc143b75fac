// Output-layer label injection (ALGORITHM.md §5).
#include "kernels/check.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {

void LabelInject(const LabelInjectArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.batch >= 0 && a.classes >= 1);
  const int64_t stride = a.batch * a.classes;
  for (int64_t b = 0; b < a.batch; ++b) {
    const int32_t y = a.labels[b];
    EDBP_CHECK(y >= 0 && y < a.classes) << "label " << y << " of sample " << b;
    int64_t t_star = 0;  // §5: last t with du > 0.05, 0 if none
    for (int64_t t = 0; t < a.steps; ++t) {
      if (a.du[t * stride + b * a.classes + y] > 0.05f) t_star = t;
    }
    const int64_t idx = t_star * stride + b * a.classes + y;
    a.o[idx] = a.du[idx] != 0.0f ? 1.0f : 0.0f;
  }
}

}  // namespace edbp::kernels::cpu

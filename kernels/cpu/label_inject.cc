// Output-layer label injection (ALGORITHM.md §5).
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {

absl::Status LabelInject(const LabelInjectArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.batch >= 0 && a.classes >= 1);
  // The labels come from the data set: checked before anything is written, so a bad
  // one leaves `o` as it was (the CUDA backend gives the same error).
  for (int64_t b = 0; b < a.batch; ++b) {
    if (a.labels[b] < 0 || a.labels[b] >= a.classes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "LabelInject: a label lies outside [0, ", a.classes, ") (ALGORITHM.md §5)"));
    }
  }
  const int64_t stride = a.batch * a.classes;
  for (int64_t b = 0; b < a.batch; ++b) {
    const int32_t y = a.labels[b];
    int64_t t_star = 0;  // §5: last t with du > 0.05, 0 if none
    for (int64_t t = 0; t < a.steps; ++t) {
      if (a.du[t * stride + b * a.classes + y] > 0.05f) t_star = t;
    }
    const int64_t idx = t_star * stride + b * a.classes + y;
    a.o[idx] = a.du[idx] != 0.0f ? 1.0f : 0.0f;
  }
  return absl::OkStatus();
}

}  // namespace edbp::kernels::cpu

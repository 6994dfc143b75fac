// Output-layer label injection (ALGORITHM.md §5), over kernels/loss_math.h.
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/loss_math.h"

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
  for (int64_t b = 0; b < a.batch; ++b) LabelInjectSampleOf(a, b);
  return absl::OkStatus();
}

}  // namespace edbp::kernels::cpu

#include "core/encoding.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace edbp {

absl::Status EncodeTtfs(std::span<const float> batch, int64_t batch_size, int64_t steps,
                        std::span<float> out) {
  if (batch_size < 1 || steps < 1 ||
      batch.size() % static_cast<size_t>(batch_size) != 0 ||
      out.size() != batch.size() * static_cast<size_t>(steps)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TTFS: ", batch.size(), " values in ", batch_size, " samples over ",
                     steps, " steps need an output of ",
                     batch.size() * static_cast<size_t>(std::max<int64_t>(steps, 0)),
                     " values, got ", out.size()));
  }
  const int64_t n = static_cast<int64_t>(batch.size()) / batch_size;
  std::fill(out.begin(), out.end(), 0.0f);
  for (int64_t b = 0; b < batch_size; ++b) {
    const std::span<const float> x = batch.subspan(b * n, n);
    if (!std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); })) {
      return absl::InvalidArgumentError(
          absl::StrCat("TTFS: sample ", b, " of the batch has a non-finite value"));
    }
    const auto [lo_it, hi_it] = std::minmax_element(x.begin(), x.end());
    const float lo = *lo_it, hi = *hi_it;
    if (hi == lo) {
      return absl::InvalidArgumentError(
          absl::StrCat("TTFS: sample ", b, " of the batch is constant (every value ", lo,
                       "); time-to-first-spike needs max > min (ALGORITHM.md §6)"));
    }
    for (int64_t i = 0; i < n; ++i) {
      // §6: k = trunc((x - lo)/(hi - lo)·T), clamped to [0, T-1], in float32.
      const float scaled = (x[i] - lo) / (hi - lo) * static_cast<float>(steps);
      const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(scaled), 0, steps - 1);
      out[(k * batch_size + b) * n + i] = 1.0f;
    }
  }
  return absl::OkStatus();
}

}  // namespace edbp

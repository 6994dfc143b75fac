#include "core/readout.h"

#include "base/check.h"

namespace edbp {

std::vector<float> WeightedCounts(std::span<const float> o, int64_t steps, int64_t batch,
                                  int64_t classes) {
  EDBP_CHECK(static_cast<int64_t>(o.size()) == steps * batch * classes);
  std::vector<float> counts(batch * classes, 0.0f);
  for (int64_t t = 0; t < steps; ++t) {
    // §9: the reference computes 1.1 - t/T/10 in float32, in that order.
    const float w = 1.1f - static_cast<float>(t) / static_cast<float>(steps) / 10.0f;
    for (int64_t i = 0; i < batch * classes; ++i) {
      counts[i] += o[t * batch * classes + i] * w;
    }
  }
  return counts;
}

std::vector<int32_t> Predict(std::span<const float> o, int64_t steps, int64_t batch,
                             int64_t classes) {
  const std::vector<float> counts = WeightedCounts(o, steps, batch, classes);
  std::vector<int32_t> predicted(batch, 0);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c) {
      if (counts[b * classes + c] > counts[b * classes + best]) best = c;  // ties: lowest
    }
    predicted[b] = static_cast<int32_t>(best);
  }
  return predicted;
}

}  // namespace edbp

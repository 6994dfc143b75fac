// Input encodings (ALGORITHM.md §6).
#ifndef EDBP_CORE_ENCODING_H_
#define EDBP_CORE_ENCODING_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"

namespace edbp {

// TTFS of a batch of normalised host samples (§6): `batch` is [B, C·H·W] row-major,
// `out` is [T, B, C·H·W] (time-major, T = steps) and is overwritten. Per sample,
// lo/hi = min/max over its values, k = trunc((x - lo)/(hi - lo)·T) clamped to
// [0, T-1]; out[k] = 1 and 0 at every other step, so the brightest pixels fire last.
// Errors: INVALID_ARGUMENT naming the sample (index within the batch) when hi == lo
// or a value is not finite, or when the sizes do not match.
absl::Status EncodeTtfs(std::span<const float> batch, int64_t batch_size, int64_t steps,
                        std::span<float> out);

}  // namespace edbp

#endif  // EDBP_CORE_ENCODING_H_

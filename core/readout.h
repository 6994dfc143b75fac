// Readout (ALGORITHM.md §9): prediction = argmax over classes of Σ_t o[t]·w_t with
// w_t = float32(1.1 - (t/T)/10); exact ties go to the lowest class.
#ifndef EDBP_CORE_READOUT_H_
#define EDBP_CORE_READOUT_H_

#include <cstdint>
#include <span>
#include <vector>

namespace edbp {

// Weighted spike counts [B, C] from host spikes o [T, B, C] (T = its first dim).
std::vector<float> WeightedCounts(std::span<const float> o, int64_t steps, int64_t batch,
                                  int64_t classes);

// Predicted class per sample from host spikes o [T, B, C].
std::vector<int32_t> Predict(std::span<const float> o, int64_t steps, int64_t batch,
                             int64_t classes);

}  // namespace edbp

#endif  // EDBP_CORE_READOUT_H_

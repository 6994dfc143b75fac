// SplitMix64's finaliser: a well-mixed 64-bit value from any 64-bit input, for the
// independent streams one seed makes (data order and augmentation, a sweep's draws).
#ifndef EDBP_BASE_SPLITMIX64_H_
#define EDBP_BASE_SPLITMIX64_H_

#include <cstdint>

namespace edbp {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace edbp

#endif  // EDBP_BASE_SPLITMIX64_H_

// Which instruction-set paths the CPU kernels may take (simd.h, cpu_ops.h).
#include <atomic>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/simd.h"

namespace edbp::kernels::cpu {
namespace {

std::atomic<bool>& Portable() {
  static std::atomic<bool> portable{false};
  return portable;
}

}  // namespace

void SetPortableKernelsForTesting(bool portable) {
  Portable().store(portable, std::memory_order_relaxed);
}

bool UseAvx512Intrinsics() {
#ifdef EDBP_HAVE_AVX512_INTRINSICS
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported && !Portable().load(std::memory_order_relaxed);
#else
  return false;
#endif
}

}  // namespace edbp::kernels::cpu

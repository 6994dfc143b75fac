// Which instruction-set level the CPU kernels run at (isa.h).
#include "kernels/cpu/isa.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace edbp::kernels::cpu {
namespace {

CpuIsa Detect() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return CpuIsa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kPortable;
}

CpuIsa CapFromEnvironment() {
  const char* env = std::getenv("EDBP_CPU_ISA");
  if (env == nullptr || *env == '\0') return CpuIsa::kAvx512;
  CpuIsa cap;
  if (!ParseCpuIsa(env, &cap)) {
    std::fprintf(stderr, "EDBP_CPU_ISA=%s: expected portable, avx2 or avx512\n", env);
    std::abort();
  }
  return cap;
}

std::atomic<CpuIsa>& Cap() {
  static std::atomic<CpuIsa> cap(CapFromEnvironment());
  return cap;
}

}  // namespace

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kPortable:
      return "portable";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool ParseCpuIsa(const char* text, CpuIsa* isa) {
  for (const CpuIsa candidate : {CpuIsa::kPortable, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (std::strcmp(text, CpuIsaName(candidate)) == 0) {
      *isa = candidate;
      return true;
    }
  }
  return false;
}

CpuIsa DetectedCpuIsa() {
  static const CpuIsa detected = Detect();
  return detected;
}

CpuIsa ActiveCpuIsa() {
  return std::min(DetectedCpuIsa(), Cap().load(std::memory_order_relaxed));
}

CpuIsa SetCpuIsaCap(CpuIsa cap) { return Cap().exchange(cap); }

}  // namespace edbp::kernels::cpu

// The instruction-set level the CPU kernels run at: the best the CPU offers, or lower
// where EDBP_CPU_ISA (or a test or benchmark, through SetCpuIsaCap) caps it, so that a
// machine with AVX-512 also tests and measures the AVX2 and portable code. Every level
// computes the same float operations in the same order (simd.h), so a kernel gives the
// same bits at each; what may differ between levels is only which of two paths an op
// takes (the event-driven kernels' crossovers are per level, sparse.h).
#ifndef EDBP_KERNELS_CPU_ISA_H_
#define EDBP_KERNELS_CPU_ISA_H_

namespace edbp::kernels::cpu {

// Ordered: a higher level has everything of a lower one.
enum class CpuIsa {
  kPortable = 0,  // the compiler's baseline (x86-64: SSE2), vectorised by the compiler
  kAvx2 = 1,      // 8 float lanes, 16 ymm registers
  kAvx512 = 2,    // AVX-512F: 16 float lanes, 32 zmm registers, masks, compress
};

// "portable", "avx2", "avx512".
const char* CpuIsaName(CpuIsa isa);
// The inverse of CpuIsaName; false for anything else.
bool ParseCpuIsa(const char* text, CpuIsa* isa);

// The best level this CPU supports (x86 only above kPortable).
CpuIsa DetectedCpuIsa();

// The level the kernels use now: min(DetectedCpuIsa(), cap). The cap starts from the
// environment variable EDBP_CPU_ISA (portable, avx2, avx512; unset or empty: no cap;
// anything else aborts with a message naming the variable). Thread-safe; one atomic
// load.
CpuIsa ActiveCpuIsa();

// Caps the level (never above what the CPU has: a higher cap means the CPU's level).
// Returns the previous cap. For tests and benchmarks: a kernel running while the cap
// changes may use either level.
CpuIsa SetCpuIsaCap(CpuIsa cap);

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_ISA_H_

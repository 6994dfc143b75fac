// Event-driven (spike-sparse) paths of the CPU convolution and GEMM ops.
//
// Inputs of every layer after the first are spikes, mostly zero, and so are the
// neuron gradients grad_in_ / grad_w_ (ALGORITHM.md §3, §5; measured in
// ../shared/docs/PERFORMANCE.md). These kernels visit only the non-zero entries of the
// sparse operand and multiply each by a contiguous row of the dense operand, held in
// vector registers (gather form: every output element is accumulated in registers
// and written once):
//   Gemm, op(A) sparse:    C[m, :] = Σ_{k: A[m,k] ≠ 0} A[m,k] · B[k, :]
//   Conv2dForward:          y[p, co] = Σ_{taps} Σ_{c: x[c, q(p,tap)] ≠ 0} x · Ŵ[tap, c,
//   co] Conv2dBackwardData:     dx[q, c] = Σ_{taps} Σ_{co: dy[co, p(q,tap)] ≠ 0} dy ·
//   W[tap, co, c] Conv2dBackwardFilter:   dW[tap, c, co] += x[c, q] · dy[p(q,tap), co]
//   for x[c, q] ≠ 0
// Each op counts the non-zeros of its sparse operand and takes the sparse path when
// the density is below the op's measured crossover (bench/RESULTS.md), else the
// dense BLAS path. The sparse paths sum in a different order than BLAS, so results
// agree with the dense path to float rounding (tests: 1e-5 of the tensor's max), and
// like every CPU op they are deterministic and independent of the thread count:
// each output element is summed by one thread in a fixed order, and the filter
// gradient sums per-chunk partials in chunk order with chunks fixed by the shape.
//
// The lane math is plain float32 multiply then add (the build has -ffp-contract=off), so
// the results are the same whichever vector ISA the CPU offers.
#ifndef EDBP_KERNELS_CPU_SPARSE_H_
#define EDBP_KERNELS_CPU_SPARSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace edbp::kernels::cpu {

enum class SparseMode {
  kAuto,    // sparse where the operand's density is below the op's crossover
  kOff,     // always the dense BLAS path
  kAlways,  // sparse wherever the op has a sparse path, whatever the density (tests)
};

// Process-wide; starts from the environment variable EDBP_SPARSE (auto, off, always;
// default auto; anything else aborts with a message naming the variable).
SparseMode GetSparseMode();
void SetSparseMode(SparseMode mode);
// "auto", "off", "always"; false for anything else.
bool ParseSparseMode(const char* text, SparseMode* mode);

// Density crossovers (fraction of non-zeros) below which kAuto takes the sparse path.
// Measured with bench/sparse_kernels_bench.cc on the Fashion-MNIST shapes
// (bench/RESULTS.md): the density where the sparse path stops being faster, rounded
// down to a measured density. The conv kernels were still faster at 0.9, the highest
// measured; a dense operand (an image) takes the dense path.
struct SparseCrossover {
  double gemm = 0.6;               // op(B) = B (linear layers' data gradient)
  double gemm_transposed_a = 0.8;  // op(A) = Aᵀ (linear layers' filter gradient)
  double gemm_transposed_b = 0.7;  // op(B) = Bᵀ: B is transposed first (linear forward)
  double conv_forward = 0.9;
  double conv_backward_data = 0.9;
  double conv_backward_filter = 0.9;
};
const SparseCrossover& GetSparseCrossover();

// What kAuto measured: per op and operand shape (e.g. "Conv2dForward x[250,32,14,14]"),
// the non-zeros seen over all calls and how many calls took each path. For the
// per-layer density profile of bench/RESULTS.md; thread-safe.
struct OperandDensity {
  std::string key;
  int64_t nonzeros = 0;
  int64_t total = 0;
  int64_t sparse_calls = 0;
  int64_t dense_calls = 0;
};
std::vector<OperandDensity> GetOperandDensities();  // sorted by key
void ResetOperandDensities();

// Each returns true when it handled the call (and wrote the output), false when the
// dense path should run: mode off, density at or above the crossover, or a case the
// sparse path does not cover (Gemm with alpha ≠ 1 or beta ≠ 0). Shapes are already
// checked by the callers.
bool SparseGemm(const GemmArgs& args);
bool SparseConv2dForward(const Conv2dForwardArgs& args);
bool SparseConv2dBackwardData(const Conv2dBackwardDataArgs& args);
bool SparseConv2dBackwardFilter(const Conv2dBackwardFilterArgs& args);

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_SPARSE_H_

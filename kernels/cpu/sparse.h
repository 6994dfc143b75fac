// Event-driven (spike-sparse) paths of the CPU convolution and GEMM ops.
//
// Inputs of every layer after the first are spikes, mostly zero, and so are the
// neuron gradients grad_in_ / grad_w_ (ALGORITHM.md §3, §5; measured in
// docs/PERFORMANCE.md). These kernels visit only the non-zero entries of the
// sparse operand and multiply each by a contiguous row of the dense operand, held in
// vector registers (gather form: every output element is accumulated in registers
// and written once):
//   Gemm, op(A) sparse:
//     C[m, :] = Σ_{k: A[m,k] ≠ 0} A[m,k] · B[k, :]
//   Conv2dForward:
//     y[p, co] = Σ_{taps} Σ_{c: x[c, q(p,tap)] ≠ 0} x · Ŵ[tap, c, co]
//   Conv2dBackwardData:
//     dx[q, c] = Σ_{taps} Σ_{co: dy[co, p(q,tap)] ≠ 0} dy · W[tap, co, c]
//   Conv2dBackwardFilter:
//     dW[tap, c, co] += x[c, q] · dy[p(q,tap), co] for x[c, q] ≠ 0
// Each op counts the non-zeros of its sparse operand and takes the event-driven path
// when the density is below the op's measured crossover (bench/RESULTS.md), else the
// dense BLAS path.
//
// Skipping a zero changes no bit of the result. Every output element is a sum of
// products x · w in a fixed order (the order of the lists: increasing k, or tap by tap
// and channel by channel), plain float32 multiply then add (the build has
// -ffp-contract=off, so the results are the same whichever vector ISA the CPU
// offers). A zero x contributes x · w = ±0, and acc + (±0) == acc for every acc the
// kernels meet (a sum that starts at +0 is never -0), as long as w is finite. So
// SparseMode::kOff, which runs the same kernels over lists that keep every entry,
// gives the same bits as kAuto: the event-driven saving is exact, and a training run
// is bit for bit the same with the skipping on and off (train_cli_test).
//
// The BLAS path sums in OpenBLAS's order, which depends on its kernel (blocking,
// CPU type), so the event-driven paths agree with it to float rounding (tests: 1e-5
// of the tensor's max), not bitwise; SparseMode::kBlas runs BLAS everywhere. Like
// every CPU op the results are deterministic and independent of the thread count:
// each output element is summed by one thread in a fixed order, and the filter
// gradient sums per-chunk partials in chunk order with chunks fixed by the shape.
#ifndef EDBP_KERNELS_CPU_SPARSE_H_
#define EDBP_KERNELS_CPU_SPARSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/ops.h"

namespace edbp::kernels::cpu {

enum class SparseMode {
  // Event-driven kernels, skipping zeros, where the operand's density is below the
  // op's crossover; BLAS above it.
  kAuto,
  // The same choice of kernel per call as kAuto (by the same density), but the
  // event-driven kernels visit every entry, zeros too: all the work of the dense
  // product, summed in the same order, so the same bits as kAuto. It measures what
  // skipping saves and shows that it changes nothing.
  kOff,
  // Event-driven kernels, skipping zeros, wherever the op has them, whatever the
  // density (tests).
  kAlways,
  // The dense BLAS path everywhere (im2col + sgemm): the independent dense baseline,
  // equal to the others to float rounding.
  kBlas,
};

// Process-wide; starts from the environment variable EDBP_SPARSE (auto, off, always,
// blas; default auto; anything else aborts with a message naming the variable).
SparseMode GetSparseMode();
void SetSparseMode(SparseMode mode);
// "auto", "off", "always", "blas"; false for anything else.
bool ParseSparseMode(const char* text, SparseMode* mode);

// Density crossovers (fraction of non-zeros) below which kAuto and kOff take the
// event-driven kernels, per instruction-set level (isa.h): how fast the kernels are
// against BLAS depends on the vector width. Measured with bench/sparse_kernels_bench.cc
// --isa LEVEL on the Fashion-MNIST shapes (bench/RESULTS.md, with the command and the
// CPU): the first measured density where the sparse path is slower, or a density
// between it and the last where it is faster when a draw a hair under the nominal
// density still took the losing kernel (AVX-512 Gemm with op(A) = Aᵀ: 0.6, between a
// win at 0.5 and a loss at 0.7), so that auto is the faster path at every density of
// the bench's table (its dense ÷ auto column); a dense operand (an image) takes the
// dense path. Faster kernels move them up: rerun the bench after changing a kernel.
// The choice of path, and so every bit of a run, is the same from run to run on one
// machine and level; two levels may choose differently at the same density (sums in
// BLAS's order or the lists' order, sparse.h's note above).
struct SparseCrossover {
  double gemm;               // op(B) = B (linear layers' data gradient)
  double gemm_transposed_a;  // op(A) = Aᵀ (linear layers' filter gradient)
  double gemm_transposed_b;  // op(B) = Bᵀ: B is transposed first (linear forward)
  double conv_forward;
  double conv_backward_data;
  double conv_backward_filter;
};
// The crossovers of `isa`, and of the active level.
const SparseCrossover& SparseCrossoverFor(CpuIsa isa);
const SparseCrossover& GetSparseCrossover();

// What kAuto and kOff measured: per op and operand shape (e.g. "Conv2dForward
// x[250,32,14,14]"), the non-zeros seen over all calls and how many calls took each path.
// For the per-layer density profile of bench/RESULTS.md; thread-safe.
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
// dense BLAS path should run: mode blas, density at or above the crossover (auto,
// off), or a case the sparse path does not cover (Gemm with alpha ≠ 1 or beta ≠ 0).
// Shapes are already checked by the callers.
bool SparseGemm(const GemmArgs& args);
bool SparseConv2dForward(const Conv2dForwardArgs& args);
bool SparseConv2dBackwardData(const Conv2dBackwardDataArgs& args);
bool SparseConv2dBackwardFilter(const Conv2dBackwardFilterArgs& args);

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_SPARSE_H_

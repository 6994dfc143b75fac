// The CPU implementation of every op in ops.h, as free functions over host memory.
// CpuBackend (cpu_backend.h) forwards to these. Each group lives in its own file,
// named after it. Shapes are CHECKed; the functions never fail otherwise, except where
// they return a Status (argument values from outside: LabelInject's labels).
//
// Threading: every function may run on the ParallelFor pool (parallel.h). Results are
// deterministic for a given input and independent of the number of threads.
#ifndef EDBP_KERNELS_CPU_CPU_OPS_H_
#define EDBP_KERNELS_CPU_CPU_OPS_H_

#include "absl/status/status.h"
#include "kernels/ops.h"

namespace edbp::kernels::cpu {

// elementwise.cc
void Fill(const FillArgs& args);
void Scale(const ScaleArgs& args);
void Mul(const MulArgs& args);
void Axpy(const AxpyArgs& args);
void SumSquares(const SumSquaresArgs& args);
void DropoutApply(const DropoutApplyArgs& args);

// stats.cc: reductions for the per-layer training statistics.
void ReduceStats(const ReduceStatsArgs& args);
void SpikeCount(const SpikeCountArgs& args);

// gemm.cc: OpenBLAS sgemm; large products are split over the pool by rows of C with
// OpenBLAS itself single-threaded (no oversubscription).
void Gemm(const GemmArgs& args);

// neuron.cc (ALGORITHM.md §2, §3)
void NeuronForward(const NeuronForwardArgs& args);
void NeuronBackward(const NeuronBackwardArgs& args);

// conv2d.cc: im2col + sgemm per sample, threaded over samples.
void Conv2dForward(const Conv2dForwardArgs& args);
void Conv2dBackwardData(const Conv2dBackwardDataArgs& args);
void Conv2dBackwardFilter(const Conv2dBackwardFilterArgs& args);

// pool2d.cc (§5)
void Pool2dForward(const Pool2dForwardArgs& args);
void Pool2dBackward(const Pool2dBackwardArgs& args);

// weight_std.cc (§4)
void WeightStdForward(const WeightStdForwardArgs& args);
void WeightStdBackward(const WeightStdBackwardArgs& args);

// label_inject.cc (§5). INVALID_ARGUMENT for a label outside [0, classes), as on CUDA.
absl::Status LabelInject(const LabelInjectArgs& args);

// loss.cc (§8)
void CountLoss(const CountLossArgs& args);
void KernelLoss(const KernelLossArgs& args);
void TetLoss(const TetLossArgs& args);

// optim.cc (§10)
void SgdStep(const SgdStepArgs& args);
void AdamStep(const AdamStepArgs& args);

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_CPU_OPS_H_

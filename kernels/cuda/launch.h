// The launchers of the custom CUDA kernels (one .cu file per op group). Each enqueues
// its kernel(s) on `stream` and returns cudaGetLastError() of the launch, which the
// backend (cuda_backend.cc) turns into a Status naming the launcher. Shapes are checked
// by the backend before a launcher is called; pointers are device memory unless a
// comment says otherwise.
//
// Numerics: the kernels repeat the CPU backend's float operations in the same order
// (kernels/cpu/*.cc), and the CUDA sources are compiled with --fmad=false so that no
// a*b+c is contracted into an FMA the CPU does not do: spikes come out bit-identical.
// Reductions that the CPU does in double may add in another order here.
#ifndef EDBP_KERNELS_CUDA_LAUNCH_H_
#define EDBP_KERNELS_CUDA_LAUNCH_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/ops.h"

namespace edbp::kernels::cuda {

// elementwise.cu
cudaError_t LaunchFill(const FillArgs& a, cudaStream_t stream);
cudaError_t LaunchScale(const ScaleArgs& a, cudaStream_t stream);
cudaError_t LaunchMul(const MulArgs& a, cudaStream_t stream);
cudaError_t LaunchAxpy(const AxpyArgs& a, cudaStream_t stream);
cudaError_t LaunchDropoutApply(const DropoutApplyArgs& a, cudaStream_t stream);

// stats.cu: reductions in double. The partial results of ReductionBlocks(n) blocks
// are written to device memory; the caller adds them on the host in block order, so
// the result depends on n only.
int64_t ReductionBlocks(int64_t n);
// partials: [ReductionBlocks(n)] Σx².
cudaError_t LaunchSumSquaresPartials(int64_t n, const float* x, double* partials,
                                     cudaStream_t stream);
// partials: [ReductionBlocks(n)][3] = Σx, Σx², max|x|.
cudaError_t LaunchReduceStatsPartials(int64_t n, const float* x, double* partials,
                                      cudaStream_t stream);
cudaError_t LaunchSpikeCount(const SpikeCountArgs& a, cudaStream_t stream);

// neuron.cu (ALGORITHM.md §2, §3)
cudaError_t LaunchNeuronForward(const NeuronForwardArgs& a, cudaStream_t stream);
cudaError_t LaunchNeuronBackward(const NeuronBackwardArgs& a, cudaStream_t stream);

// pool2d.cu (§5)
cudaError_t LaunchPool2dForward(const Pool2dForwardArgs& a, cudaStream_t stream);
cudaError_t LaunchPool2dBackward(const Pool2dBackwardArgs& a, cudaStream_t stream);

// weight_std.cu (§4)
cudaError_t LaunchWeightStdForward(const WeightStdForwardArgs& a, cudaStream_t stream);
cudaError_t LaunchWeightStdBackward(const WeightStdBackwardArgs& a, cudaStream_t stream);

// loss.cu (§5 label injection, §8 losses). `bad_label` (device int, set to 1 when a
// label lies outside [0, classes)) must be zeroed by the caller. The losses write one
// double per sample (count, kernel) or per (t, b) row (TET) to `partials`; the caller
// adds them on the host in order (a.loss is a host pointer and is not touched here).
cudaError_t LaunchLabelInject(const LabelInjectArgs& a, int* bad_label,
                              cudaStream_t stream);
cudaError_t LaunchCountLoss(const CountLossArgs& a, double* partials,
                            cudaStream_t stream);
cudaError_t LaunchKernelLoss(const KernelLossArgs& a, double* partials,
                             cudaStream_t stream);
cudaError_t LaunchTetLoss(const TetLossArgs& a, double* partials, cudaStream_t stream);

// optim.cu (§10)
cudaError_t LaunchSgdStep(const SgdStepArgs& a, cudaStream_t stream);
cudaError_t LaunchAdamStep(const AdamStepArgs& a, cudaStream_t stream);

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_LAUNCH_H_

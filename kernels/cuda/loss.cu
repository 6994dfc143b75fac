// Output-layer label injection (ALGORITHM.md §5) and the three losses (§8) on the GPU,
// over kernels/loss_math.h, the maths kernels/cpu/loss.cc runs: one thread per sample
// for injection and the count/kernel losses, one thread per (t, b) row for TET (so every
// float and each sample's double loss are bit-identical to the CPU's, up to exp/log in
// TET). Each thread writes its double loss to `partials`; the host adds them in order.
#include "kernels/cuda/kernel_util.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/loss_math.h"

namespace edbp::kernels::cuda {
namespace {

__global__ void LabelInjectKernel(LabelInjectArgs a, int* bad_label) {
  for (int64_t b = GlobalIndex(); b < a.batch; b += GridStride()) {
    if (a.labels[b] < 0 || a.labels[b] >= a.classes) {
      atomicExch(bad_label, 1);  // reported as a Status by the backend
      continue;
    }
    LabelInjectSampleOf(a, b);
  }
}

__global__ void CountLossKernel(CountLossArgs a, double* partials) {
  for (int64_t b = GlobalIndex(); b < a.batch; b += GridStride()) {
    partials[b] = CountLossSampleOf(a, b);
  }
}

__global__ void KernelLossKernel(KernelLossArgs a, KernelLossConsts k, double* partials) {
  for (int64_t b = GlobalIndex(); b < a.batch; b += GridStride()) {
    partials[b] = KernelLossSampleOf(a, k, b);
  }
}

__global__ void TetLossKernel(TetLossArgs a, double inv_rows, double* partials) {
  const int64_t rows = a.steps * a.batch;
  for (int64_t r = GlobalIndex(); r < rows; r += GridStride()) {
    partials[r] = TetLossRowOf(a, inv_rows, r);
  }
}

}  // namespace

cudaError_t LaunchLabelInject(const LabelInjectArgs& a, int* bad_label,
                              cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.batch, LabelInjectKernel, a, bad_label);
}

cudaError_t LaunchCountLoss(const CountLossArgs& a, double* partials,
                            cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.batch, CountLossKernel, a, partials);
}

cudaError_t LaunchKernelLoss(const KernelLossArgs& a, double* partials,
                             cudaStream_t stream) {
  EDBP_LAUNCH_OR_RETURN(a.batch, KernelLossKernel, a, MakeKernelLossConsts(a.tau_s),
                        partials);
}

cudaError_t LaunchTetLoss(const TetLossArgs& a, double* partials, cudaStream_t stream) {
  const int64_t rows = a.steps * a.batch;
  EDBP_LAUNCH_OR_RETURN(rows, TetLossKernel, a,
                        TetInvRows(TetMeanRows(a.steps, a.batch, a.mean_batch)),
                        partials);
}

}  // namespace edbp::kernels::cuda

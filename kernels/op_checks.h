// Argument checks of the backend ops (ops.h) that every backend makes the same way:
// each CHECK-fails with a message naming the op and the bad argument. Shared by the
// CPU and the CUDA backends so that both reject exactly the same calls.
#ifndef EDBP_KERNELS_OP_CHECKS_H_
#define EDBP_KERNELS_OP_CHECKS_H_

#include <cstdint>

#include "kernels/ops.h"

namespace edbp::kernels {

// Sizes non-negative, leading dimensions large enough, everything within the 32-bit
// sizes BLAS and cuBLAS take.
void CheckGemmArgs(const GemmArgs& g);
// du_t only together with du (both may be null: NeuronForwardArgs).
void CheckNeuronForwardArgs(const NeuronForwardArgs& a);
// grad_in, and du_t with it, are the only optional pointers (NeuronBackwardArgs).
void CheckNeuronBackwardArgs(const NeuronBackwardArgs& a);
void CheckPool2dShape(const Pool2dShape& s, const char* op);
// What CountLoss, KernelLoss and TetLoss share: steps ≥ 1, classes ≥ 1, the pointers.
void CheckLossArgs(const char* op, int64_t steps, int64_t batch, int64_t classes,
                   const float* o, const int32_t* labels, const float* grad,
                   const double* loss);
void CheckSgdStepArgs(const SgdStepArgs& a);
void CheckAdamStepArgs(const AdamStepArgs& a);

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_OP_CHECKS_H_

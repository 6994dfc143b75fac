// The learning-rate schedule (ALGORITHM.md §10): cosine annealing over the run with
// η_min = 0, as PyTorch's CosineAnnealingLR(T_max = epochs) stepped once per epoch.
#ifndef EDBP_CORE_OPTIM_SCHEDULE_H_
#define EDBP_CORE_OPTIM_SCHEDULE_H_

#include <cstdint>

namespace edbp {

// The lr that epoch `epoch` (1-based) trains at: base_lr · ½(1 + cos(π(epoch-1)/epochs)),
// in double. Epoch 1 gets base_lr; epochs past `epochs` follow the same cosine. Pure;
// epoch < 1 or epochs < 1 is a CHECK failure.
//
// This is the closed form of §10; PyTorch evaluates the same curve recursively, so its
// values may differ in the last bits of a double.
double CosineAnnealingLr(double base_lr, int64_t epoch, int64_t epochs);

}  // namespace edbp

#endif  // EDBP_CORE_OPTIM_SCHEDULE_H_

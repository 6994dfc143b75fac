// The training loss (ALGORITHM.md §8): count, kernel or TET, chosen by
// NetworkConfig.loss. A Loss turns the output layer's spikes into the batch loss and
// dL/do; the arithmetic runs in the outputs' backend (kernels/ops.h kCountLoss,
// kKernelLoss, kTetLoss), never here.
//
// Thread-safety: a Loss may keep per-backend buffers (the kernel loss's target train),
// so call one instance from one thread at a time, like the Backend it uses.
#ifndef EDBP_CORE_LOSS_LOSS_H_
#define EDBP_CORE_LOSS_LOSS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/tensor.h"

namespace edbp {

class Loss {
 public:
  // The loss of `network.loss`, with the fields it reads copied: desired_count and
  // undesired_count (count), tau_s (kernel), loss_reverse (all: the gradient's sign is
  // -1 when true, §8). Errors: INVALID_ARGUMENT when those fields are unusable
  // (e.g. tau_s <= 0 for the kernel loss).
  static absl::StatusOr<std::unique_ptr<Loss>> Create(
      const config::NetworkConfig& network);

  virtual ~Loss() = default;

  // outputs: the output layer's spikes [T, B, C] float32, after label injection (§5);
  //   T = outputs.dim(0) (t_train in training) sets the length of the kernel loss's
  //   target train and psp.
  // labels: [B] int32 on the same backend; a label outside [0, C) matches no class.
  // grad: receives dL/d outputs [T, B, C] float32 on the outputs' backend, sign
  //   included. If *grad already is a float32 tensor of that shape on that backend it
  //   is overwritten in place (its buffer, and any copy sharing it, changes);
  //   otherwise a new tensor is allocated into it.
  // Returns the batch's loss (§8: summed over the batch for count and kernel, the mean
  // over batch and time for TET). Errors: those of the backend (allocation, launch).
  // Mismatched shapes, dtypes or backends are programmer errors (CHECK).
  virtual absl::StatusOr<double> Compute(const Tensor& outputs, const Tensor& labels,
                                         Tensor* grad) = 0;

  // The YAML name of this loss ("count", "kernel", "TET").
  virtual const char* name() const = 0;

  // Data parallel (issue 18): the batches given to Compute are slices of batches of
  // `n` samples (0: whole batches, the default). A loss that averages over the batch
  // (TET) then divides by n, so that the slices' losses and gradients add up to the
  // whole batch's; the summed losses (count, kernel) do not change.
  void set_mean_batch(int64_t n) { mean_batch_ = n; }

 protected:
  int64_t mean_batch() const { return mean_batch_; }

 private:
  int64_t mean_batch_ = 0;
};

// The kernel loss's target train for the label class (§8) of length `steps`
// (= t_train in training): for steps >= 8, 1 at t >= 1 where (steps-1-t) is even;
// for steps < 8, 1 at every t >= 1; else 0.
std::vector<float> KernelLossTarget(int64_t steps);

}  // namespace edbp

#endif  // EDBP_CORE_LOSS_LOSS_H_

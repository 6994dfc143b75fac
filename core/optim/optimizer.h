// Optimisers and gradient clipping (ALGORITHM.md §10) with PyTorch 1.13 semantics.
//
// Two parameter groups, as in the reference: the weights W step at the lr passed to
// Step(); the standardisation gains and biases g, b (Parameter::is_norm) at
// lr · norm_grad. `optimizer` selects SGD (no momentum), Adam or AdamW with PyTorch's
// defaults β = (0.9, 0.999), ε = 1e-8; `weight_decay` applies to both groups, coupled
// (grad += wd·p) for SGD and Adam, decoupled (p *= 1 - lr·wd) for AdamW.
//
// The arithmetic runs in each parameter's backend (kernels/ops.h kSgdStep, kAdamStep,
// kSumSquares, kScale). Not thread-safe: one thread at a time, like the Backend.
#ifndef EDBP_CORE_OPTIM_OPTIMIZER_H_
#define EDBP_CORE_OPTIM_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/parameter.h"
#include "core/tensor.h"

namespace edbp {

// The optimiser's state for checkpoints, in host memory.
struct OptimizerState {
  struct Moments {
    std::string name;               // the parameter's name
    std::vector<float> exp_avg;     // Adam m, numel of the parameter
    std::vector<float> exp_avg_sq;  // Adam v
  };
  int64_t step = 0;              // steps taken so far
  std::vector<Moments> moments;  // Adam/AdamW: one per parameter, in order; SGD: none
};

class Optimizer {
 public:
  // Copies the parameter handles; Adam/AdamW allocate zero moments next to each.
  // Errors: INVALID_ARGUMENT for a negative weight_decay or lr · norm_grad (PyTorch
  // rejects both), RESOURCE_EXHAUSTED when the moments cannot be allocated. A
  // parameter without value or grad, or with mismatched ones, is a CHECK failure.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(
      const config::NetworkConfig& network, std::vector<Parameter> params);

  // One update of every parameter from its current grad: the W group at `lr`, the g/b
  // group at lr · norm_grad (when that is 0 the group still "steps": Adam moments
  // advance, nothing moves, as in PyTorch). Errors: INVALID_ARGUMENT for lr < 0; else
  // those of the backend (a failure may leave some parameters updated).
  absl::Status Step(double lr);

  config::OptimizerType type() const { return type_; }
  int64_t step_count() const { return step_; }
  // The parameters, e.g. for ClipGradNorm.
  std::span<Parameter> params() { return params_; }
  // Adam/AdamW moments of parameter i (undefined tensors for SGD).
  const Tensor& exp_avg(size_t i) const { return exp_avg_.at(i); }
  const Tensor& exp_avg_sq(size_t i) const { return exp_avg_sq_.at(i); }

  // Copies the state to host memory. Errors: those of the device-to-host copies.
  absl::StatusOr<OptimizerState> ExportState() const;
  // Restores a state exported by an optimiser of the same kind over parameters of the
  // same names and sizes. Errors: INVALID_ARGUMENT naming the first mismatch (nothing
  // is changed then), else those of the copies.
  absl::Status ImportState(const OptimizerState& state);

 private:
  Optimizer(config::OptimizerType type, double weight_decay, double norm_grad,
            std::vector<Parameter> params)
      : type_(type),
        weight_decay_(weight_decay),
        norm_grad_(norm_grad),
        params_(std::move(params)) {}

  bool is_adam() const { return type_ != config::OptimizerType::kSgd; }

  const config::OptimizerType type_;
  const double weight_decay_;
  const double norm_grad_;
  std::vector<Parameter> params_;
  std::vector<Tensor> exp_avg_;  // one per parameter (undefined for SGD)
  std::vector<Tensor> exp_avg_sq_;
  int64_t step_ = 0;
};

// torch.nn.utils.clip_grad_norm_ (§10): n = sqrt(Σ‖grad‖²) over every parameter given
// (frozen ones too), accumulated in double; c = max_norm / (n + 1e-6); if c < 1 every
// grad is multiplied by c (as float32). Returns n, the norm before clipping. Errors:
// those of the backends.
absl::StatusOr<double> ClipGradNorm(std::span<Parameter> params, double max_norm);

}  // namespace edbp

#endif  // EDBP_CORE_OPTIM_OPTIMIZER_H_

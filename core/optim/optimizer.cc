#include "core/optim/optimizer.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace edbp {

absl::StatusOr<std::unique_ptr<Optimizer>> Optimizer::Create(
    const config::NetworkConfig& network, std::vector<Parameter> params) {
  // PyTorch rejects a negative lr or weight decay in either group (§10).
  if (!(network.weight_decay >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Network.weight_decay: must be >= 0, got ", network.weight_decay));
  }
  if (!(network.norm_grad >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Network.norm_grad: must be >= 0, got ", network.norm_grad));
  }
  for (const Parameter& p : params) {
    EDBP_CHECK(p.value.defined() && p.grad.defined()) << "parameter " << p.name;
    EDBP_CHECK(p.value.dtype() == DType::kF32 && p.grad.dtype() == DType::kF32 &&
               p.value.shape() == p.grad.shape() && p.value.backend() == p.grad.backend())
        << "parameter " << p.name << ": value " << ShapeToString(p.value.shape())
        << ", grad " << ShapeToString(p.grad.shape());
  }
  std::unique_ptr<Optimizer> opt(new Optimizer(network.optimizer, network.weight_decay,
                                               network.norm_grad, std::move(params)));
  opt->exp_avg_.resize(opt->params_.size());
  opt->exp_avg_sq_.resize(opt->params_.size());
  if (opt->is_adam()) {
    for (size_t i = 0; i < opt->params_.size(); ++i) {
      const Tensor& value = opt->params_[i].value;
      EDBP_ASSIGN_OR_RETURN(opt->exp_avg_[i],
                            Tensor::Zeros(value.backend(), value.shape()));
      EDBP_ASSIGN_OR_RETURN(opt->exp_avg_sq_[i],
                            Tensor::Zeros(value.backend(), value.shape()));
    }
  }
  return opt;
}

absl::Status Optimizer::Step(double lr) {
  if (!(lr >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer step: lr must be >= 0, got ", lr));
  }
  const double norm_lr = lr * norm_grad_;  // §10: the g/b group
  const int64_t step = step_ + 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = params_[i];
    const double group_lr = p.is_norm ? norm_lr : lr;
    kernels::Backend* backend = p.value.backend();
    if (type_ == config::OptimizerType::kSgd) {
      EDBP_RETURN_IF_ERROR(backend->SgdStep({
          .n = p.value.numel(),
          .lr = group_lr,
          .weight_decay = weight_decay_,
          .param = p.value.f32(),
          .grad = p.grad.f32(),
      }));
    } else {
      EDBP_RETURN_IF_ERROR(backend->AdamStep({
          .n = p.value.numel(),
          .lr = group_lr,
          .weight_decay = weight_decay_,
          .decoupled = type_ == config::OptimizerType::kAdamW,
          .step = step,
          .param = p.value.f32(),
          .grad = p.grad.f32(),
          .exp_avg = exp_avg_[i].f32(),
          .exp_avg_sq = exp_avg_sq_[i].f32(),
      }));
    }
  }
  step_ = step;
  return absl::OkStatus();
}

absl::StatusOr<OptimizerState> Optimizer::ExportState() const {
  OptimizerState state;
  state.step = step_;
  if (is_adam()) {
    state.moments.reserve(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      OptimizerState::Moments m;
      m.name = params_[i].name;
      EDBP_ASSIGN_OR_RETURN(m.exp_avg, exp_avg_[i].ToHost());
      EDBP_ASSIGN_OR_RETURN(m.exp_avg_sq, exp_avg_sq_[i].ToHost());
      state.moments.push_back(std::move(m));
    }
  }
  return state;
}

absl::Status Optimizer::ImportState(const OptimizerState& state) {
  if (state.step < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer state: negative step count ", state.step));
  }
  const size_t expected = is_adam() ? params_.size() : 0;
  if (state.moments.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer state: moments for ", state.moments.size(), " parameters, the ",
        std::string(config::OptimizerTypeName(type_)), " optimiser expects ", expected));
  }
  // Validate everything before changing anything.
  for (size_t i = 0; i < state.moments.size(); ++i) {
    const OptimizerState::Moments& m = state.moments[i];
    const Parameter& p = params_[i];
    const size_t numel = static_cast<size_t>(p.value.numel());
    if (m.name != p.name) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state: parameter ", i,
                                                     " is '", m.name, "', expected '",
                                                     p.name, "'"));
    }
    if (m.exp_avg.size() != numel || m.exp_avg_sq.size() != numel) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state: parameter '", p.name, "' has ", m.exp_avg.size(),
                       "/", m.exp_avg_sq.size(), " moment values, expected ", numel));
    }
  }
  for (size_t i = 0; i < state.moments.size(); ++i) {
    const OptimizerState::Moments& m = state.moments[i];
    kernels::Backend* backend = exp_avg_[i].backend();
    EDBP_RETURN_IF_ERROR(backend->CopyHostToDevice(exp_avg_[i].f32(), m.exp_avg.data(),
                                                   exp_avg_[i].bytes()));
    EDBP_RETURN_IF_ERROR(backend->CopyHostToDevice(
        exp_avg_sq_[i].f32(), m.exp_avg_sq.data(), exp_avg_sq_[i].bytes()));
  }
  step_ = state.step;
  return absl::OkStatus();
}

absl::StatusOr<double> ClipGradNorm(std::span<Parameter> params, double max_norm) {
  // §10: the squares of all grads, frozen parameters included, summed in order.
  double sum_squares = 0;
  for (const Parameter& p : params) {
    double partial = 0;
    EDBP_RETURN_IF_ERROR(p.grad.backend()->SumSquares(
        {.n = p.grad.numel(), .x = p.grad.f32(), .result = &partial}));
    sum_squares += partial;
  }
  const double total_norm = std::sqrt(sum_squares);
  const double coef = max_norm / (total_norm + 1e-6);
  if (coef < 1) {
    const float alpha = static_cast<float>(coef);
    for (Parameter& p : params) {
      EDBP_RETURN_IF_ERROR(p.grad.backend()->Scale(
          {.n = p.grad.numel(), .alpha = alpha, .x = p.grad.f32(), .out = p.grad.f32()}));
    }
  }
  return total_norm;
}

}  // namespace edbp

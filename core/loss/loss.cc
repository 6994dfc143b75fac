#include "core/loss/loss.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace edbp {
namespace {

// §8: loss_reverse (default true) makes the gradient's sign -1.
float GradSign(const config::NetworkConfig& network) {
  return network.loss_reverse ? -1.0f : 1.0f;
}

// Checks the Compute contract and makes *grad a [T, B, C] float32 tensor on the
// outputs' backend, reusing its buffer when it already is one.
absl::Status PrepareGrad(const Tensor& outputs, const Tensor& labels, Tensor* grad) {
  EDBP_CHECK(grad != nullptr);
  EDBP_CHECK(outputs.defined() && outputs.dtype() == DType::kF32 && outputs.rank() == 3)
      << "loss outputs must be [T, B, C] float32, got "
      << (outputs.defined() ? ShapeToString(outputs.shape()) : "undefined");
  EDBP_CHECK(labels.defined() && labels.dtype() == DType::kI32 && labels.rank() == 1 &&
             labels.dim(0) == outputs.dim(1))
      << "loss labels must be [B] int32 with B = " << outputs.dim(1);
  EDBP_CHECK(labels.backend() == outputs.backend()) << "loss labels on another backend";
  EDBP_CHECK(outputs.dim(0) >= 1 && outputs.dim(2) >= 1)
      << "loss outputs " << ShapeToString(outputs.shape());
  if (grad->defined() && grad->dtype() == DType::kF32 &&
      grad->shape() == outputs.shape() && grad->backend() == outputs.backend()) {
    return absl::OkStatus();
  }
  EDBP_ASSIGN_OR_RETURN(*grad, Tensor::Empty(outputs.backend(), outputs.shape()));
  return absl::OkStatus();
}

class CountLoss final : public Loss {
 public:
  explicit CountLoss(const config::NetworkConfig& network)
      : desired_(static_cast<float>(network.desired_count)),
        undesired_(static_cast<float>(network.undesired_count)),
        sign_(GradSign(network)) {}

  absl::StatusOr<double> Compute(const Tensor& outputs, const Tensor& labels,
                                 Tensor* grad) override {
    EDBP_RETURN_IF_ERROR(PrepareGrad(outputs, labels, grad));
    double loss = 0;
    EDBP_RETURN_IF_ERROR(outputs.backend()->CountLoss({
        .steps = outputs.dim(0),
        .batch = outputs.dim(1),
        .classes = outputs.dim(2),
        .desired = desired_,
        .undesired = undesired_,
        .sign = sign_,
        .o = outputs.f32(),
        .labels = labels.i32(),
        .grad = grad->f32(),
        .loss = &loss,
    }));
    return loss;
  }
  const char* name() const override { return "count"; }

 private:
  const float desired_;
  const float undesired_;
  const float sign_;
};

class KernelLoss final : public Loss {
 public:
  explicit KernelLoss(const config::NetworkConfig& network)
      : tau_s_(network.tau_s), sign_(GradSign(network)) {}

  absl::StatusOr<double> Compute(const Tensor& outputs, const Tensor& labels,
                                 Tensor* grad) override {
    EDBP_RETURN_IF_ERROR(PrepareGrad(outputs, labels, grad));
    const int64_t steps = outputs.dim(0);
    kernels::Backend* backend = outputs.backend();
    // The target train depends only on T: built once per (T, backend) and kept.
    if (!target_.defined() || target_.dim(0) != steps || target_.backend() != backend) {
      const std::vector<float> host = KernelLossTarget(steps);
      EDBP_ASSIGN_OR_RETURN(target_, Tensor::FromHost(backend, {steps}, host));
    }
    double loss = 0;
    EDBP_RETURN_IF_ERROR(backend->KernelLoss({
        .steps = steps,
        .batch = outputs.dim(1),
        .classes = outputs.dim(2),
        .tau_s = tau_s_,
        .sign = sign_,
        .target = target_.f32(),
        .o = outputs.f32(),
        .labels = labels.i32(),
        .grad = grad->f32(),
        .loss = &loss,
    }));
    return loss;
  }
  const char* name() const override { return "kernel"; }

 private:
  const double tau_s_;
  const float sign_;
  Tensor target_;  // [T] on the backend of the last Compute
};

class TetLoss final : public Loss {
 public:
  explicit TetLoss(const config::NetworkConfig& network) : sign_(GradSign(network)) {}

  absl::StatusOr<double> Compute(const Tensor& outputs, const Tensor& labels,
                                 Tensor* grad) override {
    EDBP_RETURN_IF_ERROR(PrepareGrad(outputs, labels, grad));
    double loss = 0;
    EDBP_RETURN_IF_ERROR(outputs.backend()->TetLoss({
        .steps = outputs.dim(0),
        .batch = outputs.dim(1),
        .classes = outputs.dim(2),
        .mean_batch = mean_batch(),
        .sign = sign_,
        .o = outputs.f32(),
        .labels = labels.i32(),
        .grad = grad->f32(),
        .loss = &loss,
    }));
    return loss;
  }
  const char* name() const override { return "TET"; }

 private:
  const float sign_;
};

}  // namespace

std::vector<float> KernelLossTarget(int64_t steps) {
  EDBP_CHECK(steps >= 0) << steps;
  std::vector<float> target(static_cast<size_t>(steps), 0.0f);
  for (int64_t t = 1; t < steps; ++t) {
    // §8: alternate spikes ending on the last step for T >= 8; all but t = 0 below.
    target[t] = (steps < 8 || (steps - 1 - t) % 2 == 0) ? 1.0f : 0.0f;
  }
  return target;
}

absl::StatusOr<std::unique_ptr<Loss>> Loss::Create(const config::NetworkConfig& network) {
  switch (network.loss) {
    case config::LossType::kCount:
      return std::unique_ptr<Loss>(std::make_unique<CountLoss>(network));
    case config::LossType::kKernel:
      if (!(network.tau_s > 0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Network.tau_s: the kernel loss needs tau_s > 0, got ", network.tau_s));
      }
      return std::unique_ptr<Loss>(std::make_unique<KernelLoss>(network));
    case config::LossType::kTet:
      return std::unique_ptr<Loss>(std::make_unique<TetLoss>(network));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Network.loss: unknown loss type ", static_cast<int>(network.loss)));
}

}  // namespace edbp

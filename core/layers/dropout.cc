#include "core/layers/dropout.h"

#include <random>
#include <utility>
#include <vector>

#include "base/check.h"
#include "kernels/backend.h"

namespace edbp {
namespace {

struct DropoutContext : LayerContext {
  Tensor mask;  // [rows]; undefined when the layer was the identity
  int64_t rows = 0, inner = 0;
};

}  // namespace

absl::StatusOr<LayerForward> DropoutLayer::Forward(const Tensor& x,
                                                   const ForwardOptions& options) {
  const float p = config().p;
  LayerForward result;
  auto ctx = std::make_unique<DropoutContext>();
  if (!options.training || p <= 0.0f || p >= 1.0f) {
    result.output = x;
  } else {
    EDBP_CHECK(options.rng != nullptr) << name() << ": training dropout needs an rng";
    EDBP_CHECK(x.rank() == 3 || x.rank() == 5) << ShapeToString(x.shape());
    const int64_t steps = x.dim(0);
    ctx->rows = x.dim(1) * x.dim(2);  // (sample, neuron) or (sample, channel)
    ctx->inner = x.numel() / (steps * ctx->rows);
    std::bernoulli_distribution keep(1.0 - p);
    const float scale = 1.0f / (1.0f - p);
    // A slice of a global batch (issue 18) draws every sample's mask in sample order,
    // as the whole batch in one process does, and keeps its own rows.
    const int64_t per_sample = x.dim(2);
    const int64_t batch = x.dim(1);
    const int64_t global = options.global_batch > 0 ? options.global_batch : batch;
    EDBP_CHECK(options.batch_begin >= 0 && options.batch_begin + batch <= global)
        << name() << ": slice [" << options.batch_begin << ", +" << batch
        << ") of a batch of " << global;
    std::vector<float> all(static_cast<size_t>(global * per_sample));
    for (float& v : all) v = keep(*options.rng) ? scale : 0.0f;
    const auto first = all.begin() + options.batch_begin * per_sample;
    const std::vector<float> mask =
        global == batch ? std::move(all) : std::vector<float>(first, first + ctx->rows);
    kernels::Backend* backend = x.backend();
    EDBP_ASSIGN_OR_RETURN(ctx->mask, Tensor::FromHost(backend, {ctx->rows}, mask));
    EDBP_ASSIGN_OR_RETURN(result.output, Tensor::Empty(backend, x.shape()));
    EDBP_RETURN_IF_ERROR(backend->DropoutApply({.steps = steps,
                                                .rows = ctx->rows,
                                                .inner = ctx->inner,
                                                .mask = ctx->mask.f32(),
                                                .x = x.f32(),
                                                .out = result.output.f32()}));
  }
  if (options.keep_context) result.context = std::move(ctx);
  return result;
}

absl::StatusOr<Tensor> DropoutLayer::Backward(Tensor grad_output,
                                              std::unique_ptr<LayerContext> context,
                                              bool need_input_grad) {
  if (!need_input_grad) return Tensor();
  auto* ctx = dynamic_cast<DropoutContext*>(context.get());
  EDBP_CHECK(ctx != nullptr) << name() << ": Backward without its Forward context";
  if (!ctx->mask.defined()) return grad_output;
  kernels::Backend* backend = grad_output.backend();
  EDBP_ASSIGN_OR_RETURN(Tensor grad_x, Tensor::Empty(backend, grad_output.shape()));
  EDBP_RETURN_IF_ERROR(backend->DropoutApply({.steps = grad_output.dim(0),
                                              .rows = ctx->rows,
                                              .inner = ctx->inner,
                                              .mask = ctx->mask.f32(),
                                              .x = grad_output.f32(),
                                              .out = grad_x.f32()}));
  return grad_x;
}

}  // namespace edbp

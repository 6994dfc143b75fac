#include "core/layers/pooling.h"

#include "base/check.h"
#include "kernels/backend.h"

namespace edbp {
namespace {

kernels::PoolType ToPoolType(config::PoolingType type) {
  switch (type) {
    case config::PoolingType::kAvg:
      return kernels::PoolType::kAvg;
    case config::PoolingType::kMax:
      return kernels::PoolType::kMax;
    case config::PoolingType::kAdjustedAvg:
      return kernels::PoolType::kAdjustedAvg;
  }
  return kernels::PoolType::kAvg;
}

struct PoolingContext : LayerContext {
  Tensor x;
  Tensor y;
};

}  // namespace

PoolingLayer::PoolingLayer(config::LayerConfig config, config::PoolingType type)
    : Layer(std::move(config)), type_(ToPoolType(type)) {}

kernels::Pool2dShape PoolingLayer::PoolShape(const Shape& s) const {
  EDBP_CHECK(s.size() == 5) << name() << ": input must be [T,B,C,H,W], got "
                            << ShapeToString(s);
  return {.n = s[0] * s[1],
          .c = s[2],
          .h = s[3],
          .w = s[4],
          .kh = config().kernel_size[0],
          .kw = config().kernel_size[1]};
}

absl::StatusOr<LayerForward> PoolingLayer::Forward(const Tensor& x,
                                                   const ForwardOptions& options) {
  const kernels::Pool2dShape shape = PoolShape(x.shape());
  EDBP_CHECK(shape.out_h() >= 1 && shape.out_w() >= 1) << name() << ": window > input";
  EDBP_ASSIGN_OR_RETURN(
      Tensor y, Tensor::Empty(x.backend(), {x.dim(0), x.dim(1), shape.c, shape.out_h(),
                                            shape.out_w()}));
  EDBP_RETURN_IF_ERROR(x.backend()->Pool2dForward(
      {.shape = shape, .type = type_, .x = x.f32(), .y = y.f32()}));
  LayerForward result;
  result.output = y;
  if (options.keep_context) {
    auto ctx = std::make_unique<PoolingContext>();
    ctx->x = x;
    ctx->y = y;
    result.context = std::move(ctx);
  }
  return result;
}

absl::StatusOr<Tensor> PoolingLayer::Backward(Tensor grad_output,
                                              std::unique_ptr<LayerContext> context,
                                              bool need_input_grad) {
  if (!need_input_grad) return Tensor();
  auto* ctx = dynamic_cast<PoolingContext*>(context.get());
  EDBP_CHECK(ctx != nullptr) << name() << ": Backward without its Forward context";
  EDBP_ASSIGN_OR_RETURN(Tensor grad_x, Tensor::Empty(ctx->x.backend(), ctx->x.shape()));
  EDBP_RETURN_IF_ERROR(
      grad_output.backend()->Pool2dBackward({.shape = PoolShape(ctx->x.shape()),
                                             .type = type_,
                                             .x = ctx->x.f32(),
                                             .y = ctx->y.f32(),
                                             .dy = grad_output.f32(),
                                             .dx = grad_x.f32()}));
  return grad_x;
}

}  // namespace edbp

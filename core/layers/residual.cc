#include "core/layers/residual.h"

#include <vector>

#include "base/check.h"
#include "kernels/backend.h"

namespace edbp {
namespace {

// What the block's Forward saves: the sub-layers' contexts and the two summands.
struct ResidualContext : LayerContext {
  std::unique_ptr<LayerContext> conv1, conv2, shortcut;
  Tensor main;  // a = conv2(conv1(x))
  Tensor skip;  // b = shortcut(x) or x
};

}  // namespace

absl::Status SplitSumGradient(const Tensor& grad, const Tensor& a, const Tensor& b,
                              Tensor& grad_a, Tensor& grad_b) {
  EDBP_CHECK(grad.numel() == a.numel() && b.numel() == a.numel() &&
             grad_a.numel() == a.numel() && grad_b.numel() == a.numel());
  EDBP_ASSIGN_OR_RETURN(const std::vector<float> g, grad.ToHost());
  EDBP_ASSIGN_OR_RETURN(const std::vector<float> av, a.ToHost());
  EDBP_ASSIGN_OR_RETURN(const std::vector<float> bv, b.ToHost());
  std::vector<float> da(av.size()), db(av.size());
  for (size_t i = 0; i < av.size(); ++i) {
    float s = av[i] + bv[i];
    if (s == 0) s = 1;  // §5: s := 1 where s = 0
    da[i] = g[i] * av[i] / s;
    db[i] = g[i] * bv[i] / s;
  }
  kernels::Backend* backend = grad_a.backend();
  EDBP_RETURN_IF_ERROR(
      backend->CopyHostToDevice(grad_a.f32(), da.data(), grad_a.bytes()));
  return grad_b.backend()->CopyHostToDevice(grad_b.f32(), db.data(), grad_b.bytes());
}

absl::StatusOr<std::unique_ptr<ResidualLayer>> ResidualLayer::Create(
    const config::LayerConfig& config, const NeuronSetup* neuron,
    kernels::Backend* backend) {
  EDBP_CHECK(config.type == config::LayerType::kResidual) << config.name;
  std::unique_ptr<ResidualLayer> layer(new ResidualLayer(config));
  const config::ResidualParts parts = config::ResidualBlockParts(config);
  EDBP_ASSIGN_OR_RETURN(layer->conv1_, ConvLayer::Create(parts.conv1, neuron, backend));
  EDBP_ASSIGN_OR_RETURN(layer->conv2_, ConvLayer::Create(parts.conv2, neuron, backend));
  if (parts.has_shortcut) {
    EDBP_ASSIGN_OR_RETURN(layer->shortcut_,
                          ConvLayer::Create(parts.shortcut, neuron, backend));
  }
  return layer;
}

absl::Status ResidualLayer::ResetParameters(std::mt19937_64& rng) {
  EDBP_RETURN_IF_ERROR(conv1_->ResetParameters(rng));
  EDBP_RETURN_IF_ERROR(conv2_->ResetParameters(rng));
  if (shortcut_ != nullptr) EDBP_RETURN_IF_ERROR(shortcut_->ResetParameters(rng));
  return absl::OkStatus();
}

absl::StatusOr<LayerForward> ResidualLayer::Forward(const Tensor& x,
                                                    const ForwardOptions& options) {
  EDBP_CHECK(options.labels == nullptr) << name()
                                        << ": a residual block cannot be the "
                                           "output layer (§5)";
  auto ctx = std::make_unique<ResidualContext>();
  EDBP_ASSIGN_OR_RETURN(LayerForward f1, conv1_->Forward(x, options));
  // conv2's input is conv1's output: its gradient is needed, and it does not repeat.
  ForwardOptions inner = options;
  inner.input_grad = true;
  inner.input_repeats = false;
  EDBP_ASSIGN_OR_RETURN(LayerForward f2, conv2_->Forward(f1.output, inner));
  ctx->conv1 = std::move(f1.context);
  ctx->conv2 = std::move(f2.context);
  ctx->main = f2.output;
  if (shortcut_ != nullptr) {
    EDBP_ASSIGN_OR_RETURN(LayerForward fs, shortcut_->Forward(x, options));
    ctx->shortcut = std::move(fs.context);
    ctx->skip = fs.output;
  } else {
    ctx->skip = x;
  }
  EDBP_CHECK(ctx->skip.shape() == ctx->main.shape())
      << name() << ": shortcut " << ShapeToString(ctx->skip.shape()) << " vs "
      << ShapeToString(ctx->main.shape());
  // y = a + b (a fresh tensor: the summands stay as saved).
  LayerForward result;
  EDBP_ASSIGN_OR_RETURN(result.output, ctx->main.Clone());
  EDBP_RETURN_IF_ERROR(x.backend()->Axpy({.n = result.output.numel(),
                                          .alpha = 1.0f,
                                          .x = ctx->skip.f32(),
                                          .y = result.output.f32()}));
  if (options.keep_context) result.context = std::move(ctx);
  return result;
}

absl::StatusOr<Tensor> ResidualLayer::Backward(Tensor grad_output,
                                               std::unique_ptr<LayerContext> context,
                                               bool need_input_grad) {
  auto* ctx = dynamic_cast<ResidualContext*>(context.get());
  EDBP_CHECK(ctx != nullptr) << name() << ": Backward without its Forward context";
  kernels::Backend* backend = grad_output.backend();
  // §5: the sum splits G in proportion to its summands.
  EDBP_ASSIGN_OR_RETURN(Tensor grad_main, Tensor::Empty(backend, ctx->main.shape()));
  EDBP_ASSIGN_OR_RETURN(Tensor grad_skip, Tensor::Empty(backend, ctx->main.shape()));
  EDBP_RETURN_IF_ERROR(
      SplitSumGradient(grad_output, ctx->main, ctx->skip, grad_main, grad_skip));

  EDBP_ASSIGN_OR_RETURN(Tensor grad_mid, conv2_->Backward(std::move(grad_main),
                                                          std::move(ctx->conv2), true));
  EDBP_ASSIGN_OR_RETURN(
      Tensor grad_x,
      conv1_->Backward(std::move(grad_mid), std::move(ctx->conv1), need_input_grad));
  if (shortcut_ != nullptr) {
    EDBP_ASSIGN_OR_RETURN(
        Tensor grad_x_skip,
        shortcut_->Backward(grad_skip, std::move(ctx->shortcut), need_input_grad));
    if (!need_input_grad) return Tensor();
    EDBP_RETURN_IF_ERROR(backend->Axpy(
        {.n = grad_x.numel(), .alpha = 1.0f, .x = grad_x_skip.f32(), .y = grad_x.f32()}));
    return grad_x;
  }
  if (!need_input_grad) return Tensor();
  // Identity shortcut: its share of G reaches x unchanged.
  EDBP_RETURN_IF_ERROR(backend->Axpy(
      {.n = grad_x.numel(), .alpha = 1.0f, .x = grad_skip.f32(), .y = grad_x.f32()}));
  return grad_x;
}

}  // namespace edbp

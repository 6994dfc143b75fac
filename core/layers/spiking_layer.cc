#include "core/layers/spiking_layer.h"

#include <cmath>
#include <vector>

#include "base/check.h"
#include "kernels/backend.h"

namespace edbp {

absl::Status SpikingLayer::AllocateParameters(kernels::Backend* backend,
                                              const Shape& weight_shape,
                                              const Shape& norm_shape) {
  EDBP_ASSIGN_OR_RETURN(weight_, Tensor::Zeros(backend, weight_shape));
  EDBP_ASSIGN_OR_RETURN(grad_weight_, Tensor::Zeros(backend, weight_shape));
  EDBP_ASSIGN_OR_RETURN(norm_weight_, Tensor::Empty(backend, norm_shape));
  EDBP_RETURN_IF_ERROR(backend->Fill(
      {.n = norm_weight_.numel(), .value = 1.0f, .out = norm_weight_.f32()}));
  EDBP_ASSIGN_OR_RETURN(norm_bias_, Tensor::Zeros(backend, norm_shape));
  EDBP_ASSIGN_OR_RETURN(grad_norm_weight_, Tensor::Zeros(backend, norm_shape));
  EDBP_ASSIGN_OR_RETURN(grad_norm_bias_, Tensor::Zeros(backend, norm_shape));
  return absl::OkStatus();
}

absl::Status SpikingLayer::ResetParameters(std::mt19937_64& rng) {
  // §4: PyTorch's default for conv/linear, U(-1/sqrt(F), 1/sqrt(F)); g = 1, b = 0.
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in()));
  std::uniform_real_distribution<double> dist(-bound, bound);
  std::vector<float> w(weight_.numel());
  for (float& v : w) v = static_cast<float>(dist(rng));
  kernels::Backend* backend = weight_.backend();
  EDBP_RETURN_IF_ERROR(
      backend->CopyHostToDevice(weight_.f32(), w.data(), weight_.bytes()));
  EDBP_RETURN_IF_ERROR(backend->Fill(
      {.n = norm_weight_.numel(), .value = 1.0f, .out = norm_weight_.f32()}));
  return backend->Fill({.n = norm_bias_.numel(), .value = 0.0f, .out = norm_bias_.f32()});
}

absl::StatusOr<LayerForward> SpikingLayer::Forward(const Tensor& x,
                                                   const ForwardOptions& options) {
  kernels::Backend* backend = x.backend();
  const int64_t steps = x.dim(0);
  EDBP_CHECK(steps + 1 <= neuron_->syn_a.numel())
      << name() << ": " << steps << " steps exceed the kernel tables (n_steps)";
  const int64_t c_out = out_channels();
  const int64_t m = fan_in();

  // §4: standardise the weights on every forward.
  auto ctx = std::make_unique<SpikingContext>();
  EDBP_ASSIGN_OR_RETURN(ctx->w_hat, Tensor::Empty(backend, {c_out, m}));
  EDBP_ASSIGN_OR_RETURN(ctx->mean, Tensor::Empty(backend, {c_out}));
  EDBP_ASSIGN_OR_RETURN(ctx->var, Tensor::Empty(backend, {c_out}));
  EDBP_RETURN_IF_ERROR(backend->WeightStdForward({.c_out = c_out,
                                                  .m = m,
                                                  .w = weight_.f32(),
                                                  .g = norm_weight_.f32(),
                                                  .b = norm_bias_.f32(),
                                                  .w_hat = ctx->w_hat.f32(),
                                                  .mean = ctx->mean.f32(),
                                                  .var = ctx->var.f32()}));

  const Shape out_shape = OutputShape(x);
  // A static input (the same at every step) needs the current of step 0 only.
  const bool static_input =
      options.input_repeats && x.dim(0) >= 2 && HasRepeatedInputPath();
  ctx->input_repeats = static_input;
  Shape x_step_shape = x.shape(), current_shape = out_shape;
  if (static_input) x_step_shape[0] = current_shape[0] = 1;
  EDBP_ASSIGN_OR_RETURN(Tensor current, Tensor::Empty(backend, current_shape));
  EDBP_RETURN_IF_ERROR(
      Current(static_input ? x.Leading(x_step_shape) : x, ctx->w_hat, current));

  // §2: neuron forward over [T, B·N]. du serves the backward and label injection, du_t
  // only the backward's grad_in_ (the input gradient); what nothing will read is left
  // out.
  const bool need_du = options.keep_context || options.labels != nullptr;
  const bool need_du_t = options.keep_context && options.input_grad;
  if (need_du) {
    EDBP_ASSIGN_OR_RETURN(ctx->du, Tensor::Empty(backend, out_shape));
  }
  if (need_du_t) {
    EDBP_ASSIGN_OR_RETURN(ctx->du_t, Tensor::Empty(backend, out_shape));
  }
  EDBP_ASSIGN_OR_RETURN(ctx->o, Tensor::Empty(backend, out_shape));
  // The observer's activity statistics take per-neuron spike counts from the neuron
  // forward itself, so the [T, ...] spikes are not read back for them.
  Tensor spike_count;
  if (options.training && observer_ != nullptr) {
    EDBP_ASSIGN_OR_RETURN(spike_count, Tensor::Empty(backend, Shape(out_shape.begin() + 1,
                                                                    out_shape.end())));
  }
  kernels::NeuronParams params = neuron_->params;
  params.threshold = config().threshold;
  EDBP_RETURN_IF_ERROR(backend->NeuronForward(
      {.steps = steps,
       .n = current.numel() / current_shape[0],
       .params = params,
       .static_input = static_input,
       .input = current.f32(),
       .du = need_du ? ctx->du.f32() : nullptr,
       .du_t = need_du_t ? ctx->du_t.f32() : nullptr,
       .o = ctx->o.f32(),
       .spike_count = spike_count.defined() ? spike_count.f32() : nullptr}));

  if (observer_ != nullptr && options.keep_context) {
    EDBP_RETURN_IF_ERROR(observer_->OnForwardSpikes(*this, ctx->o));
  }
  LayerForward result;
  if (options.labels != nullptr) {
    // §5: label injection; the raw spikes are kept for the training accuracy (§9).
    EDBP_CHECK(out_shape.size() == 3) << name() << ": label injection needs [T,B,C]";
    EDBP_ASSIGN_OR_RETURN(result.raw_output, ctx->o.Clone());
    EDBP_RETURN_IF_ERROR(backend->LabelInject({.steps = steps,
                                               .batch = out_shape[1],
                                               .classes = out_shape[2],
                                               .du = ctx->du.f32(),
                                               .labels = options.labels->i32(),
                                               .o = ctx->o.f32()}));
  }
  result.output = ctx->o;
  if (spike_count.defined()) {
    EDBP_RETURN_IF_ERROR(observer_->OnTrainingSpikes(*this, spike_count, steps));
  }
  if (options.keep_context) {
    ctx->x = x;
    result.context = std::move(ctx);
  }
  return result;
}

absl::StatusOr<Tensor> SpikingLayer::Backward(Tensor grad_output,
                                              std::unique_ptr<LayerContext> context,
                                              bool need_input_grad) {
  auto* ctx = dynamic_cast<SpikingContext*>(context.get());
  EDBP_CHECK(ctx != nullptr) << name() << ": Backward without its Forward context";
  EDBP_CHECK(grad_output.numel() == ctx->o.numel());
  kernels::Backend* backend = grad_output.backend();
  const Shape out_shape = ctx->o.shape();  // a copy: ctx->o is released below
  const int64_t steps = out_shape[0];
  const int64_t n = ctx->o.numel();

  // §5: e = dL/do ⊙ o, then §3 neuron backward. e takes dL/do's buffer when the caller
  // handed over the last handle to it (one activation-sized buffer less at the peak).
  Tensor e;
  if (grad_output.sole_owner()) {
    e = grad_output.Reshaped(out_shape);
  } else {
    EDBP_ASSIGN_OR_RETURN(e, Tensor::Empty(backend, out_shape));
  }
  EDBP_RETURN_IF_ERROR(backend->Mul({.n = n,
                                     .alpha = 1.0f,
                                     .a = grad_output.f32(),
                                     .b = ctx->o.f32(),
                                     .out = e.f32()}));
  grad_output = Tensor();  // read only by the product above
  // A static input's filter gradient needs only Σ_t grad_w_ (§5: dŴ = Σ_t grad_w_[t] ⋆ x
  // with the same x at every step), which the neuron backward sums as it goes: the
  // [T, ...] grad_w_ is then never written.
  const bool sum_steps = ctx->input_repeats;
  Shape grad_w_shape = out_shape;
  if (sum_steps) grad_w_shape[0] = 1;
  EDBP_ASSIGN_OR_RETURN(Tensor grad_w, Tensor::Empty(backend, grad_w_shape));
  // grad_in_ only feeds the input gradient (§5): the first layer skips it.
  EDBP_CHECK(!need_input_grad || ctx->du_t.defined())
      << name() << ": input gradient asked of a Forward run with input_grad = false";
  Tensor grad_in;
  if (need_input_grad) {
    EDBP_ASSIGN_OR_RETURN(grad_in, Tensor::Empty(backend, out_shape));
  }
  EDBP_RETURN_IF_ERROR(
      backend->NeuronBackward({.steps = steps,
                               .n = n / steps,
                               .max_dudt_inv = neuron_->max_dudt_inv,
                               .e = e.f32(),
                               .o = ctx->o.f32(),
                               .du = ctx->du.f32(),
                               .du_t = need_input_grad ? ctx->du_t.f32() : nullptr,
                               .syn_a = neuron_->syn_a.f32(),
                               .partial_a = neuron_->partial_a.f32(),
                               .grad_w = sum_steps ? nullptr : grad_w.f32(),
                               .grad_in = need_input_grad ? grad_in.f32() : nullptr,
                               .grad_w_sum = sum_steps ? grad_w.f32() : nullptr}));

  // The forward's du, du_t and o (the step's largest tensors) are read by nothing else:
  // they go back before the filter and data gradients allocate theirs.
  ctx->du = Tensor();
  ctx->du_t = Tensor();
  ctx->o = Tensor();

  // dL/dŴ, then §4 back to W, g, b. dL/dŴ is written where dL/dW goes and turned into
  // it in place (WeightStdBackward allows the alias): one weight-sized buffer less at
  // the backward's peak.
  Tensor grad_w_hat = grad_weight_.Reshaped(ctx->w_hat.shape());
  EDBP_RETURN_IF_ERROR(FilterGrad(grad_w, ctx->x, ctx->input_repeats, grad_w_hat));
  grad_w = Tensor();  // read only by FilterGrad
  EDBP_RETURN_IF_ERROR(
      backend->WeightStdBackward({.c_out = out_channels(),
                                  .m = fan_in(),
                                  .exact = neuron_->exact_weight_norm_backward,
                                  .grad_w_hat = grad_w_hat.f32(),
                                  .w = weight_.f32(),
                                  .g = norm_weight_.f32(),
                                  .b = norm_bias_.f32(),
                                  .mean = ctx->mean.f32(),
                                  .var = ctx->var.f32(),
                                  .grad_w = grad_weight_.f32(),
                                  .grad_g = grad_norm_weight_.f32(),
                                  .grad_b = grad_norm_bias_.f32()}));

  if (!need_input_grad) {
    if (observer_ != nullptr)
      EDBP_RETURN_IF_ERROR(observer_->OnBackward(*this, e, Tensor()));
    return Tensor();
  }
  // §5: dL/dx = 0.85 · (grad_in_ back through Ŵ) ⊙ x, by the value of x.
  EDBP_ASSIGN_OR_RETURN(Tensor grad_x, Tensor::Empty(backend, ctx->x.shape()));
  EDBP_RETURN_IF_ERROR(DataGrad(grad_in, ctx->w_hat, grad_x));
  EDBP_RETURN_IF_ERROR(backend->Mul({.n = grad_x.numel(),
                                     .alpha = 0.85f,
                                     .a = grad_x.f32(),
                                     .b = ctx->x.f32(),
                                     .out = grad_x.f32()}));
  if (observer_ != nullptr) EDBP_RETURN_IF_ERROR(observer_->OnBackward(*this, e, grad_x));
  return grad_x;
}

}  // namespace edbp

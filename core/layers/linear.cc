#include "core/layers/linear.h"

#include "base/check.h"
#include "kernels/backend.h"

namespace edbp {

absl::StatusOr<std::unique_ptr<LinearLayer>> LinearLayer::Create(
    const config::LayerConfig& config, const NeuronSetup* neuron,
    kernels::Backend* backend) {
  std::unique_ptr<LinearLayer> layer(new LinearLayer(config, neuron));
  EDBP_RETURN_IF_ERROR(layer->AllocateParameters(
      backend, {config.n_outputs, config.n_inputs}, {config.n_outputs, 1}));
  return layer;
}

Shape LinearLayer::OutputShape(const Tensor& x) const {
  EDBP_CHECK(x.rank() == 3 || x.rank() == 5)
      << name() << ": input must be [T,B,N] or "
      << "[T,B,C,H,W], got " << ShapeToString(x.shape());
  EDBP_CHECK(x.numel() / (x.dim(0) * x.dim(1)) == config().n_inputs)
      << name() << ": input " << ShapeToString(x.shape()) << " vs n_inputs "
      << config().n_inputs;
  return {x.dim(0), x.dim(1), config().n_outputs};
}

absl::Status LinearLayer::Current(const Tensor& x, const Tensor& w_hat, Tensor& current) {
  // [T·B, in] · Ŵᵀ [in, out]
  const int64_t rows = x.dim(0) * x.dim(1);
  const int64_t in = config().n_inputs, out = config().n_outputs;
  return x.backend()->Gemm({.trans_a = false,
                            .trans_b = true,
                            .m = rows,
                            .n = out,
                            .k = in,
                            .alpha = 1.0f,
                            .a = x.f32(),
                            .lda = in,
                            .b = w_hat.f32(),
                            .ldb = in,
                            .beta = 0.0f,
                            .c = current.f32(),
                            .ldc = out});
}

absl::Status LinearLayer::FilterGrad(const Tensor& grad_w, const Tensor& x,
                                     bool /*input_repeats*/, Tensor& grad_w_hat) {
  // §5: dL/dŴ = Σ_t grad_w_[t]ᵀ x[t] = grad_w_ᵀ [out, T·B] · x [T·B, in]
  const int64_t rows = x.dim(0) * x.dim(1);
  const int64_t in = config().n_inputs, out = config().n_outputs;
  return x.backend()->Gemm({.trans_a = true,
                            .trans_b = false,
                            .m = out,
                            .n = in,
                            .k = rows,
                            .alpha = 1.0f,
                            .a = grad_w.f32(),
                            .lda = out,
                            .b = x.f32(),
                            .ldb = in,
                            .beta = 0.0f,
                            .c = grad_w_hat.f32(),
                            .ldc = in});
}

absl::Status LinearLayer::DataGrad(const Tensor& grad_in, const Tensor& w_hat,
                                   Tensor& grad_x) {
  // grad_in_ [T·B, out] · Ŵ [out, in]
  const int64_t rows = grad_in.dim(0) * grad_in.dim(1);
  const int64_t in = config().n_inputs, out = config().n_outputs;
  return grad_in.backend()->Gemm({.trans_a = false,
                                  .trans_b = false,
                                  .m = rows,
                                  .n = in,
                                  .k = out,
                                  .alpha = 1.0f,
                                  .a = grad_in.f32(),
                                  .lda = out,
                                  .b = w_hat.f32(),
                                  .ldb = in,
                                  .beta = 0.0f,
                                  .c = grad_x.f32(),
                                  .ldc = in});
}

}  // namespace edbp

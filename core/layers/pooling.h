// Pooling layer (ALGORITHM.md §5): stride = kernel, per time step, type from
// Network.pooling_type (avg, max, adjusted_avg). Input [T, B, C, H, W].
#ifndef EDBP_CORE_LAYERS_POOLING_H_
#define EDBP_CORE_LAYERS_POOLING_H_

#include "core/layers/layer.h"
#include "kernels/ops.h"

namespace edbp {

class PoolingLayer final : public Layer {
 public:
  PoolingLayer(config::LayerConfig config, config::PoolingType type);

  absl::StatusOr<LayerForward> Forward(const Tensor& x,
                                       const ForwardOptions& options) override;
  absl::StatusOr<Tensor> Backward(Tensor grad_output,
                                  std::unique_ptr<LayerContext> context,
                                  bool need_input_grad) override;

 private:
  kernels::Pool2dShape PoolShape(const Shape& x_shape) const;
  const kernels::PoolType type_;
};

}  // namespace edbp

#endif  // EDBP_CORE_LAYERS_POOLING_H_

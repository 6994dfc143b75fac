// A trainable tensor and its gradient, as the network exposes them and the optimiser
// updates them.
#ifndef EDBP_CORE_PARAMETER_H_
#define EDBP_CORE_PARAMETER_H_

#include <string>

#include "core/tensor.h"

namespace edbp {

// `value` and `grad` are float32 tensors of the same shape on the same backend.
// Copies share the buffers (core/tensor.h), so the optimiser's updates are seen by
// the owning layer and vice versa.
struct Parameter {
  // The reference's state_dict key: net.{i}.weight, net.{i}.norm_weight,
  // net.{i}.norm_bias (i = index in Layers, pooling and dropout counted).
  std::string name;
  Tensor value;
  Tensor grad;
  bool is_norm = false;  // g or b of the weight standardisation: lr · norm_grad (§10)
};

}  // namespace edbp

#endif  // EDBP_CORE_PARAMETER_H_

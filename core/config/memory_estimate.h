// What one training job's tensors need, estimated from a validated config's shapes, so
// that a server can refuse at submit a job that could never run (n_steps: 10000000 used
// to pass validation and fail at run time on a 1.5 TB allocation).
#ifndef EDBP_CORE_CONFIG_MEMORY_ESTIMATE_H_
#define EDBP_CORE_CONFIG_MEMORY_ESTIMATE_H_

#include <string>

#include "core/config/config.h"

namespace edbp::config {

struct MemoryEstimate {
  double activation_bytes = 0;  // what one training step keeps per sample and step
  double parameter_bytes = 0;   // parameters, their gradients and two optimiser moments
  double total_bytes() const { return activation_bytes + parameter_bytes; }
  // "about 1.2 GiB (activations 1.1 GiB for T = 5 x batch 50, parameters 0.1 GiB)"
  std::string ToString(const Config& config) const;
};

// A lower estimate (the allocators' caches, the data set and scratch come on top):
//   activations: 4 bytes x T x batch x (the input + 4 x every layer's output elements:
//                the output, what its backward keeps, and two gradients), T being
//                max(n_steps, t_train);
//   parameters:  16 bytes per weight, gain and bias (value, gradient, two moments);
//                a residual block counts its convolutions.
// Computed in double: a hostile config cannot overflow it.
MemoryEstimate EstimateTrainingMemory(const Config& config);

}  // namespace edbp::config

#endif  // EDBP_CORE_CONFIG_MEMORY_ESTIMATE_H_

#include "core/config/memory_estimate.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace edbp::config {
namespace {

double Elements(const SampleShape& shape) {
  if (shape.empty()) return 0;
  double n = 1;
  for (const int64_t d : shape) n *= static_cast<double>(d);
  return n;
}

// Weight, gain and bias elements of a conv or linear layer.
double SpikingParameters(const LayerConfig& l) {
  if (l.type == LayerType::kLinear) {
    return static_cast<double>(l.n_outputs) * static_cast<double>(l.n_inputs) +
           2.0 * static_cast<double>(l.n_outputs);
  }
  return static_cast<double>(l.out_channels) * static_cast<double>(l.in_channels) *
             static_cast<double>(l.kernel_size[0]) *
             static_cast<double>(l.kernel_size[1]) +
         2.0 * static_cast<double>(l.out_channels);
}

std::string GiB(double bytes) {
  return absl::StrFormat("%.3g GiB", bytes / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace

MemoryEstimate EstimateTrainingMemory(const Config& config) {
  const double steps =
      static_cast<double>(std::max(config.network.n_steps, config.network.t_train));
  const double batch = static_cast<double>(config.network.batch_size);
  double floats_per_sample_step = Elements(config.input_shape);
  double parameters = 0;
  for (const LayerConfig& l : config.layers) {
    floats_per_sample_step += 4.0 * Elements(l.out_shape);
    switch (l.type) {
      case LayerType::kConv:
      case LayerType::kLinear:
        parameters += SpikingParameters(l);
        break;
      case LayerType::kResidual: {
        const ResidualParts parts = ResidualBlockParts(l);
        parameters += SpikingParameters(parts.conv1) + SpikingParameters(parts.conv2);
        if (parts.has_shortcut) parameters += SpikingParameters(parts.shortcut);
        break;
      }
      case LayerType::kPooling:
      case LayerType::kDropout:
        break;
    }
  }
  MemoryEstimate e;
  e.activation_bytes = 4.0 * steps * batch * floats_per_sample_step;
  e.parameter_bytes = 16.0 * parameters;
  return e;
}

std::string MemoryEstimate::ToString(const Config& config) const {
  return absl::StrFormat(
      "about %s (activations %s for T = %d x batch_size %d, parameters %s)",
      GiB(total_bytes()), GiB(activation_bytes),
      std::max(config.network.n_steps, config.network.t_train), config.network.batch_size,
      GiB(parameter_bytes));
}

}  // namespace edbp::config

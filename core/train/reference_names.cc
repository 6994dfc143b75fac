#include "core/train/reference_names.h"

#include "absl/strings/str_cat.h"
#include "core/layers/residual.h"

namespace edbp::train {

std::map<std::string, std::string> ReferenceResNetNames(const Network& net) {
  const auto& layers = net.layers();
  const size_t n = layers.size();
  // conv, residual blocks (the first with a shortcut), pooling, linear.
  if (n < 4 || layers[0]->config().type != config::LayerType::kConv ||
      layers[n - 2]->config().type != config::LayerType::kPooling ||
      layers[n - 1]->config().type != config::LayerType::kLinear) {
    return {};
  }
  std::map<std::string, std::string> names;
  const char* kParams[] = {"weight", "norm_weight", "norm_bias"};
  const auto add = [&names, &kParams](const std::string& from, const std::string& to) {
    for (const char* p : kParams) names[from + p] = to + p;
  };
  add("net.0.", "conv1.");
  int stage = 0, block = 0;
  for (size_t i = 1; i + 2 < n; ++i) {
    const auto* residual = dynamic_cast<const ResidualLayer*>(layers[i].get());
    if (residual == nullptr) return {};
    if (residual->has_shortcut()) {
      ++stage;
      block = 0;
    } else if (stage == 0) {
      return {};  // the first block of a stage has the downsample
    }
    const std::string from = absl::StrCat("net.", i, ".");
    const std::string to = absl::StrCat("layer", stage, ".", block, ".");
    add(from + "conv1.", to + "conv1.");
    add(from + "conv2.", to + "conv2.");
    if (residual->has_shortcut()) add(from + "shortcut.", to + "downsample.");
    ++block;
  }
  if (stage == 0) return {};
  add(absl::StrCat("net.", n - 1, "."), "fc.");
  return names;
}

}  // namespace edbp::train

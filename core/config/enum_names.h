// The YAML spellings of the config enums and data sets (ALGORITHM.md §1, §5, §6, §8,
// §10), shared by the parser and the *Name() functions of config.h.
#ifndef EDBP_CORE_CONFIG_ENUM_NAMES_H_
#define EDBP_CORE_CONFIG_ENUM_NAMES_H_

#include <span>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/config/config.h"

namespace edbp::config::internal {

template <typename E>
struct EnumName {
  absl::string_view name;
  E value;
};

// The first entry for a value is its canonical name (backend: "cpu" before "python").
std::span<const EnumName<LayerType>> LayerTypeNames();
std::span<const EnumName<PoolingType>> PoolingTypeNames();
std::span<const EnumName<LossType>> LossTypeNames();
std::span<const EnumName<OptimizerType>> OptimizerTypeNames();
std::span<const EnumName<ForwardType>> ForwardTypeNames();
std::span<const EnumName<GradientType>> GradientTypeNames();
std::span<const EnumName<BackendChoice>> BackendChoiceNames();
std::span<const EnumName<Encoding>> EncodingNames();
std::span<const EnumName<WeightNormBackward>> WeightNormBackwardNames();

template <typename E>
std::vector<absl::string_view> NamesOf(std::span<const EnumName<E>> table) {
  std::vector<absl::string_view> names;
  names.reserve(table.size());
  for (const EnumName<E>& entry : table) names.push_back(entry.name);
  return names;
}

// The canonical name of `value`, or "?" when the table lacks it.
template <typename E>
absl::string_view NameOf(std::span<const EnumName<E>> table, E value) {
  for (const EnumName<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// A data set the config may name.
struct DatasetInfo {
  absl::string_view name;
  SampleShape sample_shape;  // empty for Synthetic: Network.input_shape gives it
  bool is_event = false;     // frames of events, not a static image (§0, §6)
  // > 0: every sample is a sequence of exactly this many frames, so n_steps must be it
  // (SMNIST: the 28 columns of an image).
  int64_t sequence_length = 0;
  // Its training transform keeps t_train <= n_steps of a sample's frames (random
  // temporal deletion, ALGORITHM.md §11: DVS128 Gesture).
  bool deletes_frames = false;
};

std::span<const DatasetInfo> Datasets();
const DatasetInfo* FindDataset(absl::string_view name);  // nullptr when unknown

}  // namespace edbp::config::internal

#endif  // EDBP_CORE_CONFIG_ENUM_NAMES_H_

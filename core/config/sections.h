// Parsing of the two sections of a config file, `Network:` and `Layers:`, and the
// rules that tie them together. Internal to core/config.
#ifndef EDBP_CORE_CONFIG_SECTIONS_H_
#define EDBP_CORE_CONFIG_SECTIONS_H_

#include <vector>

#include "core/config/config.h"
#include "core/config/yaml_fields.h"
#include "yaml-cpp/yaml.h"

namespace edbp::config::internal {

struct NetworkSection {
  NetworkConfig config;
  SampleShape input_shape;          // empty when the data set or input_shape is bad
  bool pooling_type_given = false;  // Network.pooling_type present and valid
  bool pooling_type_bad = false;    // present but invalid (already reported)
  bool n_class_ok = false;          // n_class parsed (for the last layer's check)
};

// Reads `Network:` (a map) with the reference's defaults (global_v.py) and checks the
// rules local to it (ALGORITHM.md §0, §1, §8, §12).
NetworkSection ParseNetworkSection(const YAML::Node& node, ErrorList* errors);

struct LayersSection {
  std::vector<LayerConfig> layers;  // YAML order
  // Per layer: its type and the fields that shape inference reads were valid.
  std::vector<bool> shape_ok;
  std::vector<bool> type_ok;
};

// Reads `Layers:` (a map, YAML order = layer order).
LayersSection ParseLayersSection(const YAML::Node& node, ErrorList* errors);

// Rules that need both sections: pooling_type present when a pooling layer exists,
// the last layer linear with n_class outputs (§5).
void CheckNetworkAgainstLayers(const NetworkSection& network, const LayersSection& layers,
                               ErrorList* errors);

}  // namespace edbp::config::internal

#endif  // EDBP_CORE_CONFIG_SECTIONS_H_

// Shape inference through the layer list (ALGORITHM.md §5).
#ifndef EDBP_CORE_CONFIG_SHAPE_INFERENCE_H_
#define EDBP_CORE_CONFIG_SHAPE_INFERENCE_H_

#include <vector>

#include "core/config/config.h"
#include "core/config/yaml_fields.h"

namespace edbp::config::internal {

// Walks `layers` in order from `input_shape`, filling each in_shape / out_shape and
// reporting every mismatch (conv in_channels, linear n_inputs, kernels larger than
// their input, conv / pooling on a flat input). A layer whose output cannot be
// computed, or whose shape fields failed to parse (!shape_ok[i]), ends the walk.
// Does nothing when input_shape is empty (the data set was already reported).
void InferShapes(const SampleShape& input_shape, const std::vector<bool>& shape_ok,
                 std::vector<LayerConfig>* layers, ErrorList* errors);

}  // namespace edbp::config::internal

#endif  // EDBP_CORE_CONFIG_SHAPE_INFERENCE_H_

// `Layers:`: one entry per layer, YAML order = layer order (ALGORITHM.md §5), with the
// keys each layer type reads in the reference (layers/conv.py, linear.py, pooling.py,
// dropout.py).
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/config/enum_names.h"
#include "core/config/sections.h"

namespace edbp::config::internal {
namespace {

constexpr absl::string_view kConvKeys[] = {"type",        "in_channels", "out_channels",
                                           "kernel_size", "stride",      "padding",
                                           "dilation",    "threshold"};
constexpr absl::string_view kLinearKeys[] = {"type", "n_inputs", "n_outputs",
                                             "threshold"};
constexpr absl::string_view kPoolingKeys[] = {"type", "kernel_size"};
constexpr absl::string_view kDropoutKeys[] = {"type", "p"};
constexpr absl::string_view kResidualKeys[] = {"type", "in_channels", "out_channels",
                                               "stride", "threshold"};

// The firing threshold V: required on conv / linear (optional on residual, whose
// default the caller sets), > 0, stored as float32 (§5).
void ReadThreshold(MapReader& r, LayerConfig* layer, Need need = Need::kRequired) {
  double value = layer->threshold;
  if (!r.Number("threshold", need, Bound::kPositive, &value)) return;
  const float threshold = static_cast<float>(value);
  if (!(threshold > 0) || !std::isfinite(threshold)) {
    r.Error("threshold",
            absl::StrCat("expected a number > 0 that float32 can hold, got ", value));
    return;
  }
  layer->threshold = threshold;
}

// Reads the keys of `layer->type`; returns whether every field that shape inference
// reads is valid. Each reader runs even after an earlier one failed.
bool ReadLayerFields(MapReader& r, LayerConfig* layer) {
  bool ok = true;
  switch (layer->type) {
    case LayerType::kConv:
      r.CheckUnknown(kConvKeys, "a conv layer");
      ok = r.Int("in_channels", Need::kRequired, 1, &layer->in_channels) && ok;
      ok = r.Int("out_channels", Need::kRequired, 1, &layer->out_channels) && ok;
      ok = r.Pair("kernel_size", Need::kRequired, 1, &layer->kernel_size) && ok;
      ok = r.Pair("stride", Need::kOptional, 1, &layer->stride) && ok;
      ok = r.Pair("padding", Need::kOptional, 0, &layer->padding) && ok;
      ok = r.Pair("dilation", Need::kOptional, 1, &layer->dilation) && ok;
      ReadThreshold(r, layer);
      break;
    case LayerType::kLinear:
      r.CheckUnknown(kLinearKeys, "a linear layer");
      // A bad n_inputs does not stop inference: the output is n_outputs either way.
      r.Int("n_inputs", Need::kRequired, 1, &layer->n_inputs);
      ok = r.Int("n_outputs", Need::kRequired, 1, &layer->n_outputs) && ok;
      ReadThreshold(r, layer);
      break;
    case LayerType::kPooling:
      r.CheckUnknown(kPoolingKeys, "a pooling layer");
      ok = r.Pair("kernel_size", Need::kRequired, 1, &layer->kernel_size) && ok;
      break;
    case LayerType::kDropout: {
      r.CheckUnknown(kDropoutKeys, "a dropout layer");
      // §5: any p is accepted; p <= 0 or p >= 1 makes the layer the identity.
      double p = layer->p;
      if (r.Number("p", Need::kOptional, Bound::kAny, &p))
        layer->p = static_cast<float>(p);
      break;
    }
    case LayerType::kResidual: {
      r.CheckUnknown(kResidualKeys, "a residual layer");
      ok = r.Int("in_channels", Need::kRequired, 1, &layer->in_channels) && ok;
      ok = r.Int("out_channels", Need::kRequired, 1, &layer->out_channels) && ok;
      // §5 / resnet.py: a stage's first block has stride 2, the others 1.
      int64_t stride = 1;
      if (r.Int("stride", Need::kOptional, 1, &stride)) {
        if (stride == 1 || stride == 2) {
          layer->stride = {stride, stride};
        } else {
          r.Error("stride",
                  absl::StrCat("expected 1 or 2 (ALGORITHM.md §5), got ", stride));
          ok = false;
        }
      } else {
        ok = false;
      }
      layer->threshold = 1.0f;  // resnet.py's conv3x3 / conv1x1
      ReadThreshold(r, layer, Need::kOptional);
      break;
    }
  }
  return ok;
}

}  // namespace

LayersSection ParseLayersSection(const YAML::Node& node, ErrorList* errors) {
  LayersSection section;
  MapReader layers_reader(node, "Layers", errors);
  // Before anything else walks them: a config of 100,000 layers took seconds and
  // hundreds of MB per validation.
  if (node.IsMap() && node.size() > static_cast<size_t>(kMaxLayers)) {
    errors->Add("Layers", absl::StrCat(node.size(), " layers, more than the limit of ",
                                       kMaxLayers));
    return section;
  }
  layers_reader.CheckDuplicates("layer name");
  if (node.size() == 0) errors->Add("Layers", "expected at least one layer, got none");

  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) continue;  // reported by CheckDuplicates
    LayerConfig layer;
    layer.name = entry.first.Scalar();
    if (!seen.insert(layer.name).second) continue;  // reported by CheckDuplicates
    const std::string path = JoinPath("Layers", layer.name);
    bool type_ok = false;
    bool shape_ok = false;
    if (!entry.second.IsMap()) {
      errors->Add(path, absl::StrCat("expected a map of layer settings, got ",
                                     Describe(entry.second)));
    } else {
      MapReader r(entry.second, path, errors);
      r.CheckDuplicates("key");
      type_ok =
          r.Enum("type", Need::kRequired, "layer type", LayerTypeNames(), &layer.type);
      // Without a type the layer's keys cannot be judged.
      if (type_ok) shape_ok = ReadLayerFields(r, &layer);
    }
    section.layers.push_back(std::move(layer));
    section.type_ok.push_back(type_ok);
    section.shape_ok.push_back(shape_ok);
  }
  return section;
}

void CheckNetworkAgainstLayers(const NetworkSection& network, const LayersSection& layers,
                               ErrorList* errors) {
  std::vector<std::string> pooling_layers;
  for (size_t i = 0; i < layers.layers.size(); ++i) {
    if (layers.type_ok[i] && layers.layers[i].type == LayerType::kPooling) {
      pooling_layers.push_back(layers.layers[i].name);
    }
  }
  // The reference reads pooling_type in every pooling forward.
  if (!pooling_layers.empty() && !network.pooling_type_given &&
      !network.pooling_type_bad) {
    errors->Add("Network.pooling_type",
                absl::StrCat("missing required key; expected one of ",
                             absl::StrJoin(NamesOf(PoolingTypeNames()), ", "),
                             " (the network has pooling layers: ",
                             absl::StrJoin(pooling_layers, ", "), ")"));
  }

  if (layers.layers.empty() || !layers.type_ok.back()) return;
  const LayerConfig& last = layers.layers.back();
  const std::string path = JoinPath("Layers", last.name);
  // §5: the output layer is linear (label injection, readout).
  if (last.type != LayerType::kLinear) {
    errors->Add(JoinPath(path, "type"),
                absl::StrCat("expected linear for the last layer (ALGORITHM.md §5), got ",
                             NameOf(LayerTypeNames(), last.type)));
    return;
  }
  if (network.n_class_ok && last.n_outputs > 0 &&
      last.n_outputs != network.config.n_class) {
    errors->Add(JoinPath(path, "n_outputs"),
                absl::StrCat("expected ", network.config.n_class,
                             " (Network.n_class), got ", last.n_outputs));
  }
}

}  // namespace edbp::config::internal

#include "core/config/shape_inference.h"

#include <array>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace edbp::config::internal {
namespace {

std::string PairText(const std::array<int64_t, 2>& pair) { return DimsToString(pair); }

// Where a layer's input comes from, for messages: "pooling_2", "the input".
struct Incoming {
  const SampleShape& shape;
  std::string from;
};

// conv and pooling work on feature maps.
bool NeedsImage(const Incoming& in, absl::string_view layer_kind, const std::string& path,
                ErrorList* errors) {
  if (in.shape.size() == 3) return true;
  errors->Add(
      path, absl::StrCat("expected a [C, H, W] input for a ", layer_kind, " layer, got [",
                         absl::StrJoin(in.shape, ", "), "] from ", in.from));
  return false;
}

// §5 conv: out = (H + 2p - d(k-1) - 1) / s + 1 per spatial dimension, which must be
// >= 1, i.e. the dilated kernel must fit the padded input.
std::optional<SampleShape> ConvOutput(const LayerConfig& layer, const Incoming& in,
                                      const std::string& path, ErrorList* errors) {
  if (!NeedsImage(in, "conv", path, errors)) return std::nullopt;
  if (layer.in_channels != in.shape[0]) {
    errors->Add(
        JoinPath(path, "in_channels"),
        absl::StrCat("expected ", in.shape[0], " (channels of ", DimsToString(in.shape),
                     " from ", in.from, "), got ", layer.in_channels));
  }
  std::array<int64_t, 2> span{};  // extent of the dilated kernel
  std::array<int64_t, 2> room{};  // padded input size
  std::array<int64_t, 2> out{};
  bool fits = true;
  for (size_t d = 0; d < 2; ++d) {
    span[d] = layer.dilation[d] * (layer.kernel_size[d] - 1) + 1;
    room[d] = in.shape[1 + d] + 2 * layer.padding[d];
    fits = fits && span[d] <= room[d];
    out[d] = (room[d] - span[d]) / layer.stride[d] + 1;
  }
  if (!fits) {
    const bool dilated = layer.dilation != std::array<int64_t, 2>{1, 1};
    const bool padded = layer.padding != std::array<int64_t, 2>{0, 0};
    errors->Add(
        JoinPath(path, "kernel_size"),
        absl::StrCat("expected a kernel ", dilated ? "spanning " : "of ", "at most ",
                     PairText(room), " (the ", in.shape[1], "x", in.shape[2],
                     " input from ", in.from,
                     padded ? absl::StrCat(" padded by ", PairText(layer.padding)) : "",
                     "), got ", PairText(layer.kernel_size),
                     dilated ? absl::StrCat(" with dilation ", PairText(layer.dilation),
                                            " (spans ", PairText(span), ")")
                             : ""));
    return std::nullopt;
  }
  return SampleShape{layer.out_channels, out[0], out[1]};
}

// §5 pooling: stride = kernel, edges that do not fill a window dropped: floor(H/k).
std::optional<SampleShape> PoolingOutput(const LayerConfig& layer, const Incoming& in,
                                         const std::string& path, ErrorList* errors) {
  if (!NeedsImage(in, "pooling", path, errors)) return std::nullopt;
  const std::array<int64_t, 2> size = {in.shape[1], in.shape[2]};
  if (layer.kernel_size[0] > size[0] || layer.kernel_size[1] > size[1]) {
    errors->Add(JoinPath(path, "kernel_size"),
                absl::StrCat("expected at most ", PairText(size), " (the ",
                             DimsToString(in.shape), " input from ", in.from, "), got ",
                             PairText(layer.kernel_size)));
    return std::nullopt;
  }
  return SampleShape{in.shape[0], size[0] / layer.kernel_size[0],
                     size[1] / layer.kernel_size[1]};
}

// §5 linear: a [C, H, W] input is flattened to C*H*W.
std::optional<SampleShape> LinearOutput(const LayerConfig& layer, const Incoming& in,
                                        const std::string& path, ErrorList* errors) {
  int64_t flat = 1;
  bool overflow = false;
  for (int64_t dim : in.shape)
    overflow = overflow || __builtin_mul_overflow(flat, dim, &flat);
  const std::string detail =
      in.shape.size() == 1 ? absl::StrCat("from ", in.from)
                           : absl::StrCat(DimsToString(in.shape), " from ", in.from);
  if (overflow) {
    errors->Add(JoinPath(path, "n_inputs"),
                absl::StrCat("expected the flattened size of ", detail,
                             ", which overflows int64"));
    return std::nullopt;
  }
  if (layer.n_inputs != flat) {
    errors->Add(JoinPath(path, "n_inputs"),
                absl::StrCat("expected ", flat, " (", detail, "), got ", layer.n_inputs));
  }
  return SampleShape{layer.n_outputs};
}

}  // namespace

void InferShapes(const SampleShape& input_shape, const std::vector<bool>& shape_ok,
                 std::vector<LayerConfig>* layers, ErrorList* errors) {
  if (input_shape.empty()) return;
  SampleShape shape = input_shape;
  for (size_t i = 0; i < layers->size(); ++i) {
    if (!shape_ok[i]) return;
    LayerConfig& layer = (*layers)[i];
    const Incoming in{shape, i == 0 ? std::string("the input") : (*layers)[i - 1].name};
    const std::string path = JoinPath("Layers", layer.name);
    std::optional<SampleShape> out;
    switch (layer.type) {
      case LayerType::kConv:
        out = ConvOutput(layer, in, path, errors);
        break;
      case LayerType::kLinear:
        out = LinearOutput(layer, in, path, errors);
        break;
      case LayerType::kPooling:
        out = PoolingOutput(layer, in, path, errors);
        break;
      case LayerType::kDropout:
        out = shape;  // §5: dropout keeps the shape
        break;
    }
    if (!out.has_value()) return;
    // §5: a linear layer sees its input flattened.
    layer.in_shape =
        layer.type == LayerType::kLinear ? SampleShape{layer.n_inputs} : shape;
    layer.out_shape = *out;
    shape = std::move(*out);
  }
}

}  // namespace edbp::config::internal

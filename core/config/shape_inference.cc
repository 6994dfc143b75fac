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

// §5 residual block: conv1 (3x3, stride s) then conv2 (3x3); the shortcut (1x1,
// stride s) gives the same H, W, so the block's output is conv2's.
std::optional<SampleShape> ResidualOutput(const LayerConfig& layer, const Incoming& in,
                                          const std::string& path, ErrorList* errors) {
  if (!NeedsImage(in, "residual", path, errors)) return std::nullopt;
  const ResidualParts parts = ResidualBlockParts(layer);
  // conv1's messages carry the block's path: its in_channels is the block's.
  std::optional<SampleShape> mid = ConvOutput(parts.conv1, in, path, errors);
  if (!mid.has_value()) return std::nullopt;
  const Incoming mid_in{*mid, JoinPath(layer.name, "conv1")};
  return ConvOutput(parts.conv2, mid_in, JoinPath(path, "conv2"), errors);
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
      case LayerType::kResidual:
        out = ResidualOutput(layer, in, path, errors);
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

namespace edbp::config {

ResidualParts ResidualBlockParts(const LayerConfig& block) {
  auto conv = [&](absl::string_view part, int64_t c_in, int64_t k, int64_t pad,
                  int64_t stride) {
    LayerConfig c;
    c.name = absl::StrCat(block.name, ".", part);
    c.type = LayerType::kConv;
    c.in_channels = c_in;
    c.out_channels = block.out_channels;
    c.kernel_size = {k, k};
    c.stride = {stride, stride};
    c.padding = {pad, pad};
    c.threshold = block.threshold;
    return c;
  };
  const int64_t s = block.stride[0];
  ResidualParts parts;
  parts.conv1 = conv("conv1", block.in_channels, 3, 1, s);
  parts.conv2 = conv("conv2", block.out_channels, 3, 1, 1);
  parts.has_shortcut = s != 1 || block.in_channels != block.out_channels;
  if (parts.has_shortcut) parts.shortcut = conv("shortcut", block.in_channels, 1, 0, s);
  if (!block.in_shape.empty() && !block.out_shape.empty()) {
    parts.conv1.in_shape = block.in_shape;
    parts.conv1.out_shape = block.out_shape;
    parts.conv2.in_shape = block.out_shape;
    parts.conv2.out_shape = block.out_shape;
    parts.shortcut.in_shape = block.in_shape;
    parts.shortcut.out_shape = block.out_shape;
  }
  return parts;
}

}  // namespace edbp::config

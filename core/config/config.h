// The training configuration: the reference's YAML schema (`Network:` + `Layers:`),
// parsed into typed, validated structs.
//
// Schema and defaults follow the reference code (ALGORITHM.md cites each rule). Every
// error names its field path (`Layers.FC_1.n_inputs: expected 3136 (64x7x7 from
// pooling_2), got 3000`); all errors of a file are reported together, one per line, in
// a single INVALID_ARGUMENT status. Unknown keys are errors that suggest the closest
// known key. Parsing never touches the file system or devices: whether `backend: cuda`
// can run here is decided where the backend is resolved, outside this module.
#ifndef EDBP_CORE_CONFIG_CONFIG_H_
#define EDBP_CORE_CONFIG_CONFIG_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace edbp::config {

enum class LayerType {
  kConv,      // 2-D convolution + spiking neurons (§5)
  kLinear,    // fully connected + spiking neurons (§5)
  kPooling,   // pooling with Network.pooling_type (§5)
  kDropout,   // dropout shared across time steps (§5)
  kResidual,  // residual block conv3x3(conv3x3_stride(x)) + shortcut (§5)
};

enum class PoolingType {
  kAvg,          // "avg"
  kMax,          // "max"
  kAdjustedAvg,  // "adjusted_avg" (§5)
};

enum class LossType {
  kCount,   // "count" (§8)
  kKernel,  // "kernel" (§8)
  kTet,     // "TET" (§8)
};

enum class OptimizerType {
  kSgd,    // "SGD"
  kAdam,   // "Adam"
  kAdamW,  // "AdamW"
};

enum class ForwardType {
  kLeaky,     // "leaky" (default)
  kNonleaky,  // "nonleaky"
};

enum class GradientType {
  kOriginal,     // "original"
  kExponential,  // "exponential"
};

enum class BackendChoice {
  kAuto,  // "auto" (default): CUDA where a device exists, else the CPU
  kCpu,   // "cpu", or the reference's "python"
  kCuda,  // "cuda": an error where no CUDA device exists
};

enum class Encoding {
  kNone,  // "None" (default): analog input repeated t_train times (§6)
  kTtfs,  // "TTFS": one spike per pixel, time-to-first-spike (§6)
};

enum class WeightNormBackward {
  kReference,  // "reference" (default): the reference's elementwise formulas (§4)
  kExact,      // "exact": the true gradient of the standardisation
};

// Per-sample shape of an activation: {C, H, W} for images / feature maps, {N} for a
// flat vector.
using SampleShape = std::vector<int64_t>;

// One entry of `Layers:`, in YAML order.
struct LayerConfig {
  std::string name;  // the YAML key, e.g. "conv_1"
  LayerType type = LayerType::kConv;

  // conv: in_channels, out_channels (required), kernel_size (required), stride (1),
  // padding (0), dilation (1). Each of the four pairs accepts an integer or the
  // reference's string "(h, w)"; stored as {h, w}.
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  std::array<int64_t, 2> kernel_size = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> padding = {0, 0};
  std::array<int64_t, 2> dilation = {1, 1};

  // residual: in_channels, out_channels (required), stride (1 or 2, default 1; an
  // integer, stored as {s, s}), threshold (default 1, as the reference's resnet.py).
  // Its convolutions come from ResidualBlockParts.

  // linear: n_inputs, n_outputs (required).
  int64_t n_inputs = 0;
  int64_t n_outputs = 0;

  // conv / linear: firing threshold V (required, > 0).
  float threshold = 0;

  // dropout: p (default 0.5). p <= 0 or p >= 1 makes the layer the identity (§5).
  float p = 0.5f;

  // Filled by shape inference: per-sample input and output shapes of this layer. A
  // linear layer's in_shape is the flattened {C*H*W} (its n_inputs) even when the
  // layer before it outputs {C, H, W}; dropout and pooling keep the incoming rank.
  SampleShape in_shape;
  SampleShape out_shape;
};

// The convolutions of a residual block (§5, the reference's networks/resnet.py
// BasicBlock), as conv LayerConfigs named "<block>.conv1", "<block>.conv2" and
// "<block>.shortcut", each with the block's threshold:
//   conv1: 3x3, padding 1, the block's stride, in_channels -> out_channels;
//   conv2: 3x3, padding 1, stride 1, out_channels -> out_channels;
//   shortcut: 1x1, padding 0, the block's stride, in_channels -> out_channels, present
//     only when stride != 1 or in_channels != out_channels (else the identity).
// in_shape / out_shape are filled when the block's are.
struct ResidualParts {
  LayerConfig conv1;
  LayerConfig conv2;
  bool has_shortcut = false;
  LayerConfig shortcut;  // meaningful only when has_shortcut
};
ResidualParts ResidualBlockParts(const LayerConfig& block);

// `Network:`, with the reference's defaults.
// Network.progress_every (and edbp-train --progress-every, CreateJobRequest.
// progress_every) where none is given, and the largest accepted: a record per million
// batches is already none in practice.
inline constexpr int64_t kDefaultProgressEvery = 20;
inline constexpr int64_t kMaxProgressEvery = 1000000;

struct NetworkConfig {
  int64_t epochs = 0;      // required, >= 1
  int64_t batch_size = 0;  // required, >= 1
  int64_t n_steps = 0;     // required, >= 1 (T)
  int64_t t_train = 0;     // default n_steps; == n_steps unless event data (§0)
  // required: MNIST, FashionMNIST, CIFAR10, CIFAR100, NMNIST, DVS128Gesture,
  // CIFAR10DVS (2x128x128 event frames; CIFAR10DVS samples reach the network
  // resized to 2x48x48, ALGORITHM.md §11.1; issue 20), SMNIST (n_steps 28), or
  // Synthetic (edbp's own, whose sample shape comes from the extension key
  // `input_shape: [C, H, W]` or `[N]`; for the others input_shape is optional and must
  // match). `model_import` is rejected: the network must be written out in `Layers:`.
  std::string dataset;
  std::string data_path;  // default "" (the data set's standard location)
  std::string log_path;   // default ""
  // edbp extension: directory of the event-frame cache (NMNIST, core/data/frame_cache.h);
  // default "" = <data_path>/edbp_frame_cache.
  std::string cache_path;
  // edbp extension: > 0 uses only the first N training and N test samples (quick
  // jobs, tests); default 0 = all. edbp-train --data-limit overrides it.
  int64_t data_limit = 0;
  // edbp extension: the seed of init, shuffling, augmentation and dropout, as
  // edbp-train --seed (which overrides it); default -1 = not given (seed 0).
  int64_t seed = -1;
  // edbp extension: batches between progress records of the training and the test
  // pass (0: none), as edbp-train --progress-every (which overrides it) and
  // CreateJobRequest.progress_every; at most kMaxProgressEvery; default -1 = not given
  // (20).
  int64_t progress_every = -1;
  BackendChoice backend = BackendChoice::kAuto;
  OptimizerType optimizer = OptimizerType::kAdamW;  // required in the YAML
  double lr = 0;                                    // required, > 0
  double weight_decay = 0;                          // default 0, >= 0
  double avg_spike_init = 1;                        // default 1, > 0 (§7)
  LossType loss = LossType::kCount;                 // required
  bool loss_reverse = true;  // default true: gradient sign -1 (§8)
  double norm_grad = 1;      // default 1, >= 0: lr factor for g, b (§10)
  GradientType gradient_type = GradientType::kExponential;  // required
  ForwardType forward_type = ForwardType::kLeaky;
  PoolingType pooling_type = PoolingType::kAdjustedAvg;  // required if any pooling
  int64_t n_class = 0;                                   // required, >= 2
  double desired_count = 0;         // required for loss count, >= 0 (§8)
  double undesired_count = 0;       // required for loss count, >= 0 (§8)
  double tau_m = 0;                 // required, > 0, != tau_s
  double tau_s = 0;                 // required, > 0
  double tau_grad = 0;              // required for gradient_type exponential, > 0
  double max_dudt_inv = 123456789;  // default 123456789, > 0 (§3)
  Encoding encoding = Encoding::kNone;
  bool amp = false;  // accepted for compatibility; must be false
  WeightNormBackward weight_norm_backward = WeightNormBackward::kReference;
};

// The most layers a config may list (the reference's deepest networks have a few dozen):
// more is an error at parse time, before any layer is read.
inline constexpr int64_t kMaxLayers = 1000;

struct Config {
  NetworkConfig network;
  std::vector<LayerConfig> layers;  // YAML order
  SampleShape input_shape;          // per-sample input shape of the data set
  std::string source_name;          // file name (or "<string>") used in messages
  std::string source_text;          // the YAML text as given (for checkpoints)
};

// Parses and validates YAML text. `source_name` prefixes syntax errors
// ("fashion_mnist.yaml:12:3: ..."). Errors: INVALID_ARGUMENT listing every problem.
absl::StatusOr<Config> ParseConfig(std::string_view yaml_text,
                                   std::string_view source_name = "<string>");

// Reads and parses a file. Errors: NOT_FOUND / PERMISSION_DENIED naming the path when
// it cannot be read, else as ParseConfig.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// Names used in the YAML, for messages and round trips.
std::string_view LayerTypeName(LayerType type);
std::string_view PoolingTypeName(PoolingType type);
std::string_view LossTypeName(LossType type);
std::string_view OptimizerTypeName(OptimizerType type);
std::string_view ForwardTypeName(ForwardType type);
std::string_view GradientTypeName(GradientType type);
std::string_view BackendChoiceName(BackendChoice choice);  // kCpu -> "cpu"
std::string_view EncodingName(Encoding encoding);
std::string_view WeightNormBackwardName(WeightNormBackward mode);

// The per-sample input shape of a data set the config may name ({1, 28, 28} for MNIST
// and FashionMNIST, {3, 32, 32} for CIFAR10 / CIFAR100, {2, 34, 34} for NMNIST,
// {1, 28, 1} per step for SMNIST); empty for Synthetic (shape from
// Network.input_shape) and unknown names.
SampleShape DatasetSampleShape(std::string_view dataset);

// True for event data sets (NMNIST): input arrives as n_steps frames, and t_train may
// differ from n_steps (ALGORITHM.md §0, §6). False for static images.
bool IsEventDataset(std::string_view dataset);

// True for an event data set whose training transform keeps t_train of a sample's
// n_steps frames (DVS128 Gesture, ALGORITHM.md §11); t_train must equal n_steps for the
// others.
bool DatasetDeletesFrames(std::string_view dataset);

}  // namespace edbp::config

#endif  // EDBP_CORE_CONFIG_CONFIG_H_

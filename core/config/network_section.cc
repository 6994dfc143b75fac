// `Network:`: every key of NetworkConfig, with the reference's defaults (global_v.py
// init) and edbp's own (backend auto, weight_norm_backward reference).
#include <charconv>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/config/enum_names.h"
#include "core/config/sections.h"

namespace edbp::config::internal {
namespace {

// In the order of NetworkConfig; the last two are edbp's (input_shape) and the
// reference's (model_import, rejected).
// clang-format off
constexpr absl::string_view kNetworkKeys[] = {
    "epochs", "batch_size", "n_steps", "t_train", "dataset", "data_path", "log_path",
    "backend", "optimizer", "lr", "weight_decay", "avg_spike_init", "loss",
    "loss_reverse", "norm_grad", "gradient_type", "forward_type", "pooling_type",
    "n_class", "desired_count", "undesired_count", "tau_m", "tau_s", "tau_grad",
    "max_dudt_inv", "encoding", "amp", "weight_norm_backward", "input_shape", "data_limit",
    "seed", "progress_every", "cache_path", "model_import"};
// clang-format on

// The shortest text that reads back as `value` ("5", "2.5", "0.0005").
std::string FormatNumber(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return absl::StrCat(value);
  return std::string(buffer, end);
}

std::string ListText(const std::vector<int64_t>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
}

// Network.dataset and Network.input_shape (an edbp extension): sets
// section->input_shape when both are consistent. Returns the data set, if known.
const DatasetInfo* ReadDataset(MapReader& r, NetworkSection* section) {
  std::vector<absl::string_view> names;
  for (const DatasetInfo& info : Datasets()) names.push_back(info.name);
  int index = -1;
  const bool dataset_ok = r.Choice("dataset", Need::kRequired, "data set", names, &index);
  const DatasetInfo* dataset =
      dataset_ok ? &Datasets()[static_cast<size_t>(index)] : nullptr;
  if (dataset != nullptr) section->config.dataset = std::string(dataset->name);

  std::vector<int64_t> shape;
  const bool shape_given = r.Has("input_shape");
  bool shape_ok = r.IntList("input_shape", Need::kOptional, 1, &shape);
  if (shape_given && shape_ok && shape.size() != 1 && shape.size() != 3) {
    r.Error("input_shape",
            absl::StrCat("expected [C, H, W] or [N], got ", ListText(shape)));
    shape_ok = false;
  }
  if (dataset == nullptr) return nullptr;
  if (dataset->sample_shape.empty()) {  // Synthetic
    if (!shape_given) {
      r.Error("input_shape",
              absl::StrCat("missing required key; expected [C, H, W] or [N] (dataset ",
                           dataset->name, " takes its sample shape from it)"));
    } else if (shape_ok) {
      section->input_shape = shape;
    }
    return dataset;
  }
  if (shape_given && shape_ok && shape != dataset->sample_shape) {
    r.Error("input_shape",
            absl::StrCat("expected ", ListText(dataset->sample_shape), " (the ",
                         dataset->name, " sample shape), got ", ListText(shape)));
  }
  section->input_shape = dataset->sample_shape;
  return dataset;
}

// A key that another key's value makes required: records "missing required key" with
// the reason when absent, else reads it as an optional number.
void ReadRequiredFor(MapReader& r, absl::string_view key, bool required, Bound bound,
                     absl::string_view reason, double* out) {
  if (required && !r.Has(key)) {
    r.Error(key,
            absl::StrCat("missing required key; expected a number ",
                         bound == Bound::kPositive ? "> 0" : ">= 0", " (", reason, ")"));
    return;
  }
  r.Number(key, Need::kOptional, bound, out);
}

// What later reads and the checks across keys need to know of the keys read: whether
// each one they look at read well, and the data set.
struct KeysRead {
  const DatasetInfo* dataset = nullptr;
  bool n_steps_ok = false;
  bool t_train_given = false;
  bool t_train_ok = false;
  bool loss_ok = false;
  bool gradient_ok = false;
  bool forward_ok = false;
  bool tau_m_ok = false;
  bool tau_s_ok = false;
};

// The run's length and data: epochs, batch size, time steps, data set and paths, backend.
void ReadRunKeys(MapReader& r, NetworkSection* section, KeysRead* read) {
  NetworkConfig& c = section->config;
  r.Int("epochs", Need::kRequired, 1, &c.epochs);
  r.Int("batch_size", Need::kRequired, 1, &c.batch_size);
  read->n_steps_ok = r.Int("n_steps", Need::kRequired, 1, &c.n_steps);
  read->t_train_given = r.Has("t_train");
  read->t_train_ok = r.Int("t_train", Need::kOptional, 1, &c.t_train);
  if (!read->t_train_given) c.t_train = c.n_steps;  // §0: t_train defaults to n_steps
  read->dataset = ReadDataset(r, section);
  r.String("data_path", Need::kOptional, &c.data_path);
  r.String("log_path", Need::kOptional, &c.log_path);
  r.String("cache_path", Need::kOptional, &c.cache_path);  // edbp: event frame cache
  r.Int("data_limit", Need::kOptional, 0, &c.data_limit);  // edbp: 0 = all samples
  r.Int("seed", Need::kOptional, 0, &c.seed);              // edbp: -1 = not given
  if (r.Int("progress_every", Need::kOptional, 0, &c.progress_every) &&
      c.progress_every > kMaxProgressEvery) {  // edbp: -1 = not given
    r.Error("progress_every",
            absl::StrCat("expected at most ", kMaxProgressEvery,
                         " (batches between progress records), got ", c.progress_every));
  }
  r.Enum("backend", Need::kOptional, "backend", BackendChoiceNames(), &c.backend);
}

// The optimiser, the loss and how its gradient flows back.
void ReadTrainingKeys(MapReader& r, NetworkSection* section, KeysRead* read) {
  NetworkConfig& c = section->config;
  r.Enum("optimizer", Need::kRequired, "optimizer", OptimizerTypeNames(), &c.optimizer);
  r.Number("lr", Need::kRequired, Bound::kPositive, &c.lr);
  r.Number("weight_decay", Need::kOptional, Bound::kNonNegative, &c.weight_decay);
  r.Number("avg_spike_init", Need::kOptional, Bound::kPositive, &c.avg_spike_init);
  read->loss_ok = r.Enum("loss", Need::kRequired, "loss", LossTypeNames(), &c.loss);
  r.Bool("loss_reverse", Need::kOptional, &c.loss_reverse);
  r.Number("norm_grad", Need::kOptional, Bound::kNonNegative, &c.norm_grad);
  read->gradient_ok = r.Enum("gradient_type", Need::kRequired, "gradient type",
                             GradientTypeNames(), &c.gradient_type);
  read->forward_ok = r.Enum("forward_type", Need::kOptional, "forward type",
                            ForwardTypeNames(), &c.forward_type);
  const bool pooling_given = r.Has("pooling_type");
  const bool pooling_ok = r.Enum("pooling_type", Need::kOptional, "pooling type",
                                 PoolingTypeNames(), &c.pooling_type);
  section->pooling_type_given = pooling_given && pooling_ok;
  section->pooling_type_bad = pooling_given && !pooling_ok;
  section->n_class_ok = r.Int("n_class", Need::kRequired, 2, &c.n_class);

  // §8: the count loss needs both targets.
  const bool count_loss = read->loss_ok && c.loss == LossType::kCount;
  constexpr absl::string_view kCountReason = "loss count needs it, ALGORITHM.md §8";
  ReadRequiredFor(r, "desired_count", count_loss, Bound::kNonNegative, kCountReason,
                  &c.desired_count);
  ReadRequiredFor(r, "undesired_count", count_loss, Bound::kNonNegative, kCountReason,
                  &c.undesired_count);
}

// The neuron model and the input encoding, then the keys edbp rejects.
void ReadNeuronKeys(MapReader& r, NetworkSection* section, KeysRead* read) {
  NetworkConfig& c = section->config;
  read->tau_m_ok = r.Number("tau_m", Need::kRequired, Bound::kPositive, &c.tau_m);
  read->tau_s_ok = r.Number("tau_s", Need::kRequired, Bound::kPositive, &c.tau_s);
  // §1: exponential gradients decay with tau_grad.
  ReadRequiredFor(r, "tau_grad",
                  read->gradient_ok && c.gradient_type == GradientType::kExponential,
                  Bound::kPositive, "gradient_type exponential needs it, ALGORITHM.md §1",
                  &c.tau_grad);
  r.Number("max_dudt_inv", Need::kOptional, Bound::kPositive, &c.max_dudt_inv);
  r.Enum("encoding", Need::kOptional, "encoding", EncodingNames(), &c.encoding);
  if (r.Bool("amp", Need::kOptional, &c.amp) && c.amp) {
    r.Error("amp",
            "expected false, got true (fp16 autocast is not supported, "
            "ALGORITHM.md §12)");
  }
  r.Enum("weight_norm_backward", Need::kOptional, "weight_norm_backward value",
         WeightNormBackwardNames(), &c.weight_norm_backward);
  if (r.Has("model_import")) {
    r.Error("model_import", "not supported: write the network out in Layers");
  }
}

// Combinations of valid keys that the neuron model cannot run.
void CheckNeuronModel(MapReader& r, const NetworkConfig& c, const KeysRead& read) {
  // §0: theta_m = float32(1/tau_m) must differ from theta_s = float32(1/tau_s), or
  // the kernel tables divide by zero.
  if (read.tau_m_ok && read.tau_s_ok &&
      static_cast<float>(1 / c.tau_m) == static_cast<float>(1 / c.tau_s)) {
    const std::string got = c.tau_m == c.tau_s
                                ? absl::StrCat("tau_m = tau_s = ", FormatNumber(c.tau_m))
                                : absl::StrCat("tau_m = ", FormatNumber(c.tau_m),
                                               " and tau_s = ", FormatNumber(c.tau_s),
                                               ", the same 1/tau in float32");
    r.Error("tau_m", absl::StrCat("expected a value different from tau_s (theta_m != "
                                  "theta_s, ALGORITHM.md §0), got ",
                                  got));
  }
  // §1: nonleaky neurons have no kernel to differentiate with the original gradient.
  if (read.forward_ok && read.gradient_ok && c.forward_type == ForwardType::kNonleaky &&
      c.gradient_type == GradientType::kOriginal) {
    r.Error("forward_type",
            "expected leaky with gradient_type original (nonleaky + original is "
            "invalid, ALGORITHM.md §1), got nonleaky");
  }
}

// Valid keys that do not fit the data set's samples.
void CheckDatasetFit(MapReader& r, const NetworkConfig& c, const KeysRead& read) {
  const DatasetInfo* dataset = read.dataset;
  if (dataset == nullptr) return;
  // §6: a sequence data set (SMNIST) brings its own number of time steps.
  if (dataset->sequence_length > 0 && read.n_steps_ok &&
      c.n_steps != dataset->sequence_length) {
    r.Error("n_steps",
            absl::StrCat("expected ", dataset->sequence_length, " (", dataset->name,
                         " samples are sequences of ", dataset->sequence_length,
                         " steps), got ", c.n_steps));
  }
  // §6: TTFS encodes static images; event and sequence data arrive as frames.
  if ((dataset->is_event || dataset->sequence_length > 0) &&
      c.encoding == Encoding::kTtfs) {
    r.Error("encoding",
            absl::StrCat("expected None (", dataset->name,
                         " samples are already frames, ALGORITHM.md §6), got TTFS"));
  }
  // §0: for static images t_train != n_steps breaks the test pass.
  if (!dataset->is_event && read.t_train_given && read.t_train_ok && read.n_steps_ok &&
      c.t_train != c.n_steps) {
    r.Error("t_train",
            absl::StrCat("expected ", c.n_steps, " (= n_steps: ", dataset->name,
                         " is a static data set, ALGORITHM.md §0), got ", c.t_train));
  }
  // §0, §11: event samples have n_steps frames; only DVS128 Gesture's training
  // transform deletes frames, down to t_train.
  if (dataset->is_event && read.t_train_given && read.t_train_ok && read.n_steps_ok) {
    if (dataset->deletes_frames && c.t_train > c.n_steps) {
      r.Error("t_train", absl::StrCat("expected at most n_steps (", c.n_steps,
                                      "): training keeps t_train of the ", c.n_steps,
                                      " frames (ALGORITHM.md §11), got ", c.t_train));
    } else if (!dataset->deletes_frames && c.t_train != c.n_steps) {
      r.Error("t_train",
              absl::StrCat("expected ", c.n_steps, " (= n_steps: ", dataset->name,
                           " samples have n_steps frames and no temporal deletion, "
                           "ALGORITHM.md §0), got ",
                           c.t_train));
    }
  }
}

}  // namespace

NetworkSection ParseNetworkSection(const YAML::Node& node, ErrorList* errors) {
  NetworkSection section;
  MapReader r(node, "Network", errors);
  r.CheckDuplicates("key");
  r.CheckUnknown(kNetworkKeys, "Network");

  // The order of these calls is the order of the errors they record (tests compare it).
  KeysRead read;
  ReadRunKeys(r, &section, &read);
  ReadTrainingKeys(r, &section, &read);
  ReadNeuronKeys(r, &section, &read);
  CheckNeuronModel(r, section.config, read);
  CheckDatasetFit(r, section.config, read);
  return section;
}

}  // namespace edbp::config::internal

#include "core/train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/check.h"
#include "core/io/safetensors.h"
#include "core/train/checkpoint_names.h"
#include "core/train/reference_names.h"
#include "kernels/cpu/cpu_backend.h"

namespace edbp::train {
namespace {

constexpr char kFormat[] = "edbp-checkpoint-1";
constexpr char kExpAvgPrefix[] = "optimizer.exp_avg.";
constexpr char kExpAvgSqPrefix[] = "optimizer.exp_avg_sq.";
constexpr char kNoOptimizer[] = "none";  // "optimizer" of a weights-only checkpoint
constexpr char kSpikeCountsPrefix[] = "epoch_spike_counts.";
constexpr char kLayerSums[] = "epoch_layer_sums";
constexpr int kLayerSumFields = 10;
// More layers than any network has: a longer "epoch_layer_sums" is refused before it
// is split (a hostile entry of 10^8 ';' would otherwise allocate gigabytes).
constexpr size_t kMaxLayers = 4096;

// The same status with "<path>: <context>: " in front of its message.
absl::Status Annotate(const absl::Status& status, const std::string& path,
                      absl::string_view context) {
  return absl::Status(status.code(),
                      absl::StrCat(path, ": ", context, ": ", status.message()));
}

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// A parameter key of the reference's state_dict: net.{i}.weight|norm_weight|norm_bias.
// Other net.* keys (net.0.weight.grad in the reference fixture) are not parameters.
bool IsParameterKey(absl::string_view key) {
  if (!absl::ConsumePrefix(&key, "net.")) return false;
  size_t digits = 0;
  while (digits < key.size() && absl::ascii_isdigit(key[digits])) ++digits;
  if (digits == 0 || digits >= key.size() || key[digits] != '.') return false;
  key.remove_prefix(digits + 1);
  return key == "weight" || key == "norm_weight" || key == "norm_bias";
}

std::string RngState(std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

std::string OptimizerName(config::OptimizerType type) {
  return std::string(config::OptimizerTypeName(type));
}

// Finds tensor `key` with shape `shape` in `file`; its values must be finite (a NaN
// weight loaded silently made a run "succeed" with NaN norms).
absl::StatusOr<const HostTensor*> FindTensor(const std::string& path,
                                             const SafeTensors& file,
                                             const std::string& key, const Shape& shape) {
  auto it = file.tensors.find(key);
  if (it == file.tensors.end()) {
    return Invalid(path, absl::StrCat("missing tensor '", key, "'"));
  }
  if (it->second.shape != shape) {
    return Invalid(
        path, absl::StrCat(key, ": the checkpoint has ", ShapeToString(it->second.shape),
                           ", the network ", ShapeToString(shape)));
  }
  const std::vector<float>& values = it->second.data;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return Invalid(path, absl::StrCat("tensor '", key, "' holds ", values[i],
                                        " at index ", i, " (values must be finite)"));
    }
  }
  return &it->second;
}

// The keys a parameter's values and Adam moments are stored under.
constexpr const char* kKeyPrefixes[] = {"", kExpAvgPrefix, kExpAvgSqPrefix};

// Issue 20: a ResNet's file under the reference's names (reference_names.h), from
// edbp's names and back. Keys of neither kind stay as they are; a file holding a
// parameter under both names keeps edbp's.
void RenameKeys(SafeTensors& file, const std::map<std::string, std::string>& names,
                bool to_reference) {
  for (const auto& [edbp, reference] : names) {
    for (const char* prefix : kKeyPrefixes) {
      const std::string from = absl::StrCat(prefix, to_reference ? edbp : reference);
      const std::string to = absl::StrCat(prefix, to_reference ? reference : edbp);
      auto it = file.tensors.find(from);
      if (it == file.tensors.end() || file.tensors.contains(to)) continue;
      file.tensors[to] = std::move(it->second);
      file.tensors.erase(it);
    }
  }
}

// `contents` with a ResNet's reference keys under edbp's names: `contents` itself for
// every other network (no copy), else a renamed copy in `renamed`.
const SafeTensors& UnderEdbpNames(const SafeTensors& contents, const Network& net,
                                  SafeTensors& renamed) {
  const std::map<std::string, std::string> names = ReferenceResNetNames(net);
  if (names.empty()) return contents;
  renamed = contents;
  RenameKeys(renamed, names, /*to_reference=*/false);
  return renamed;
}

// Checks that `file` holds every parameter of `params` with its shape and no parameter
// key the network lacks; returns the file's tensor for each parameter, in order.
absl::StatusOr<std::vector<const HostTensor*>> MatchParameters(
    const std::string& path, const SafeTensors& file,
    const std::vector<Parameter>& params) {
  std::vector<const HostTensor*> out;
  out.reserve(params.size());
  std::set<std::string> known;
  for (const Parameter& p : params) {
    EDBP_ASSIGN_OR_RETURN(const HostTensor* t,
                          FindTensor(path, file, p.name, p.value.shape()));
    out.push_back(t);
    known.insert(p.name);
  }
  for (const auto& [key, tensor] : file.tensors) {
    if (IsParameterKey(key) && !known.contains(key)) {
      return Invalid(path,
                     absl::StrCat("tensor '", key, "' ", ShapeToString(tensor.shape),
                                  " is not a parameter of the network (another "
                                  "architecture?)"));
    }
  }
  return out;
}

// Copies validated host values into the parameters. Only a failing device copy can
// stop it half-way.
absl::Status CopyParameters(const std::string& path, const std::vector<Parameter>& params,
                            const std::vector<const HostTensor*>& values) {
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& value = params[i].value;
    EDBP_CHECK(values[i]->data.size() == static_cast<size_t>(value.numel()))
        << params[i].name;
    absl::Status s = value.backend()->CopyHostToDevice(
        value.f32(), values[i]->data.data(), value.bytes());
    if (!s.ok()) return Annotate(s, path, params[i].name);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Metadata(const std::string& path, const SafeTensors& file,
                                     const std::string& key) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end()) {
    return Invalid(path, absl::StrCat("missing metadata entry '", key, "'"));
  }
  return it->second;
}

absl::Status Malformed(const std::string& path, const std::string& key,
                       const std::string& value, absl::string_view expected) {
  return Invalid(path, absl::StrCat("metadata entry '", key, "' is '", value,
                                    "', expected ", expected));
}

// Epoch numbers beyond this are no run's (a config's epochs is an int32): refused, so
// that no later `epoch + 1` overflows (a checkpoint saying 2^63 - 1 aborted --resume).
constexpr int64_t kMaxEpoch = std::numeric_limits<int32_t>::max();
// Record numbers beyond this are no run's; refused so that the next `records + 1` and
// the sums of a replay never overflow.
constexpr int64_t kMaxRecords = int64_t{1} << 53;

absl::StatusOr<int64_t> NonNegativeInt(
    const std::string& path, const SafeTensors& file, const std::string& key,
    int64_t max = std::numeric_limits<int64_t>::max()) {
  EDBP_ASSIGN_OR_RETURN(const std::string text, Metadata(path, file, key));
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0 || value > max) {
    return Malformed(path, key, text,
                     max == std::numeric_limits<int64_t>::max()
                         ? std::string("an integer >= 0")
                         : absl::StrCat("an integer in [0, ", max, "]"));
  }
  return value;
}

// A double as %.17g writes it (round-trips); "nan" and "inf" parse too.
absl::StatusOr<double> Double(const std::string& path, const SafeTensors& file,
                              const std::string& key) {
  EDBP_ASSIGN_OR_RETURN(const std::string text, Metadata(path, file, key));
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) return Malformed(path, key, text, "a number");
  return value;
}

std::string FormatDouble(double value) { return absl::StrFormat("%.17g", value); }

// Batches in an epoch and samples in a data set stay below this (int32 indices of the
// loaders); larger stored values are refused so that no later sum overflows.
constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();

std::string LayerSumsText(const std::vector<LayerAccumulators>& layers) {
  std::vector<std::string> rows;
  rows.reserve(layers.size());
  for (const LayerAccumulators& a : layers) {
    rows.push_back(
        absl::StrCat(FormatDouble(a.spikes_seen_steps), " ", FormatDouble(a.grad_sum_in),
                     " ", FormatDouble(a.grad_sum_out), " ", a.backward_batches, " ",
                     FormatDouble(a.grad_norm), " ", FormatDouble(a.grad_mean), " ",
                     FormatDouble(a.grad_max_abs), " ", a.grad_batches, " ",
                     FormatDouble(a.update_ratio), " ", a.updates));
  }
  return absl::StrJoin(rows, ";");
}

// "epoch_layer_sums" and the epoch_spike_counts.{k} tensors; counts at most `batch`.
absl::StatusOr<std::vector<LayerAccumulators>> ParseLayerSums(const std::string& path,
                                                              const SafeTensors& file,
                                                              int64_t batch) {
  EDBP_ASSIGN_OR_RETURN(const std::string text, Metadata(path, file, kLayerSums));
  std::vector<LayerAccumulators> out;
  if (text.empty()) return out;
  if (static_cast<size_t>(std::count(text.begin(), text.end(), ';')) >= kMaxLayers) {
    return Malformed(path, kLayerSums, text.substr(0, 40) + "...",
                     absl::StrCat("at most ", kMaxLayers, " ';'-separated layers"));
  }
  for (absl::string_view row : absl::StrSplit(text, ';')) {
    const size_t k = out.size();
    const std::string where =
        absl::StrCat(kLayerSums, "' layer ", k, " ('", row.substr(0, 80), "'");
    const std::vector<absl::string_view> fields = absl::StrSplit(row, ' ');
    const auto bad = [&](absl::string_view expected) {
      return Invalid(path, absl::StrCat("metadata entry '", where, ") ", expected));
    };
    if (fields.size() != kLayerSumFields) {
      return bad(absl::StrCat("has ", fields.size(), " fields, expected ",
                              kLayerSumFields, " space-separated numbers"));
    }
    double d[kLayerSumFields] = {};
    for (int f = 0; f < kLayerSumFields; ++f) {
      if (!absl::SimpleAtod(fields[f], &d[f])) {
        return bad(absl::StrCat("field ", f + 1, " '", fields[f], "' is not a number"));
      }
    }
    int64_t counts[3] = {};
    const int count_fields[3] = {3, 7, 9};
    for (int c = 0; c < 3; ++c) {
      const absl::string_view field = fields[count_fields[c]];
      if (!absl::SimpleAtoi(field, &counts[c]) || counts[c] < 0 || counts[c] > batch) {
        return bad(absl::StrCat("field ", count_fields[c] + 1, " '", field,
                                "' is not an integer in [0, epoch_batch ", batch, "]"));
      }
    }
    if (!std::isfinite(d[0]) || d[0] < 0) {
      return bad(absl::StrCat("field 1 '", fields[0], "' is not a number >= 0"));
    }
    LayerAccumulators a;
    a.spikes_seen_steps = d[0];
    a.grad_sum_in = d[1];
    a.grad_sum_out = d[2];
    a.backward_batches = counts[0];
    a.grad_norm = d[4];
    a.grad_mean = d[5];
    a.grad_max_abs = d[6];
    a.grad_batches = counts[1];
    a.update_ratio = d[8];
    a.updates = counts[2];
    const std::string key = absl::StrCat(kSpikeCountsPrefix, k);
    auto it = file.tensors.find(key);
    if (it == file.tensors.end()) {
      return Invalid(path, absl::StrCat("missing tensor '", key, "' (", kLayerSums,
                                        " has layer ", k, ")"));
    }
    if (it->second.shape.size() != 1) {
      return Invalid(path, absl::StrCat("tensor '", key, "' has shape ",
                                        ShapeToString(it->second.shape),
                                        ", expected one dimension"));
    }
    a.spike_counts = it->second.data;
    out.push_back(std::move(a));
  }
  return out;
}

// The EpochProgress of a mid-epoch checkpoint; nullopt without "epoch_batch".
absl::StatusOr<std::optional<EpochProgress>> ParseProgress(const std::string& path,
                                                           const SafeTensors& file,
                                                           const TrainingState& state) {
  if (!file.metadata.contains("epoch_batch")) return std::nullopt;
  EpochProgress p;
  EDBP_ASSIGN_OR_RETURN(p.batches,
                        NonNegativeInt(path, file, "epoch_batches", kMaxCount));
  if (p.batches == 0) {
    return Malformed(path, "epoch_batches", "0",
                     absl::StrCat("an integer in [1, ", kMaxCount, "]"));
  }
  EDBP_ASSIGN_OR_RETURN(p.batch, NonNegativeInt(path, file, "epoch_batch", p.batches));
  if (state.epochs > 0 && state.epoch >= state.epochs) {
    return Invalid(
        path, absl::StrCat("metadata entry 'epoch_batch' is for epoch ", state.epoch + 1,
                           " but the run has ", state.epochs, " epochs"));
  }
  EDBP_ASSIGN_OR_RETURN(p.loss_total, Double(path, file, "epoch_loss_total"));
  EDBP_ASSIGN_OR_RETURN(p.seen, NonNegativeInt(path, file, "epoch_seen", kMaxCount));
  EDBP_ASSIGN_OR_RETURN(p.correct, NonNegativeInt(path, file, "epoch_correct", p.seen));
  EDBP_ASSIGN_OR_RETURN(p.layers, ParseLayerSums(path, file, p.batch));
  return p;
}

// The parsed __metadata__ of a checkpoint.
struct CheckpointMetadata {
  TrainingState state;
  int64_t optimizer_step = 0;
  std::optional<config::OptimizerType> optimizer;  // nullopt: weights only
  std::mt19937_64 rng;
};

absl::StatusOr<CheckpointMetadata> ParseMetadata(const std::string& path,
                                                 const SafeTensors& file) {
  CheckpointMetadata out;
  EDBP_ASSIGN_OR_RETURN(const std::string format, Metadata(path, file, "format"));
  if (format != kFormat) {
    return Malformed(path, "format", format, absl::StrCat("'", kFormat, "'"));
  }
  EDBP_ASSIGN_OR_RETURN(out.state.epoch, NonNegativeInt(path, file, "epoch", kMaxEpoch));
  EDBP_ASSIGN_OR_RETURN(out.optimizer_step, NonNegativeInt(path, file, "optimizer_step"));
  EDBP_ASSIGN_OR_RETURN(out.state.best_epoch,
                        NonNegativeInt(path, file, "best_epoch", kMaxEpoch));

  EDBP_ASSIGN_OR_RETURN(const std::string optimizer, Metadata(path, file, "optimizer"));
  if (optimizer != kNoOptimizer) {
    for (config::OptimizerType type :
         {config::OptimizerType::kSgd, config::OptimizerType::kAdam,
          config::OptimizerType::kAdamW}) {
      if (optimizer == OptimizerName(type)) out.optimizer = type;
    }
    if (!out.optimizer.has_value()) {
      return Malformed(path, "optimizer", optimizer, "SGD, Adam, AdamW or none");
    }
  }

  EDBP_ASSIGN_OR_RETURN(const std::string accuracy,
                        Metadata(path, file, "best_test_accuracy"));
  if (!absl::SimpleAtod(accuracy, &out.state.best_test_accuracy)) {
    return Malformed(path, "best_test_accuracy", accuracy, "a number");
  }
  // Optional: checkpoints before it was stored have none (then 0: the config's).
  if (file.metadata.contains("epochs")) {
    EDBP_ASSIGN_OR_RETURN(out.state.epochs,
                          NonNegativeInt(path, file, "epochs", kMaxEpoch));
    if (out.state.epochs == 0 || out.state.epochs < out.state.epoch) {
      return Malformed(path, "epochs", file.metadata.at("epochs"),
                       absl::StrCat("an integer in [max(1, epoch ", out.state.epoch,
                                    "), ", kMaxEpoch, "]"));
    }
  }
  EDBP_ASSIGN_OR_RETURN(const std::string seed, Metadata(path, file, "seed"));
  if (!absl::SimpleAtoi(seed, &out.state.seed)) {
    return Malformed(path, "seed", seed, "an unsigned 64-bit integer");
  }

  EDBP_ASSIGN_OR_RETURN(const std::string rng, Metadata(path, file, "network_rng"));
  std::istringstream in(rng);
  in >> out.rng;
  if (in.fail() || !(in >> std::ws).eof()) {
    // The state is 313 numbers: show only its start.
    return Invalid(path, absl::StrCat("metadata entry 'network_rng' is not the state of "
                                      "a std::mt19937_64 ('",
                                      absl::string_view(rng).substr(0, 40), "...')"));
  }
  EDBP_ASSIGN_OR_RETURN(out.state.config_text, Metadata(path, file, "config"));
  if (file.metadata.contains("records")) {
    EDBP_ASSIGN_OR_RETURN(out.state.records,
                          NonNegativeInt(path, file, "records", kMaxRecords));
  }
  EDBP_ASSIGN_OR_RETURN(out.state.progress, ParseProgress(path, file, out.state));
  return out;
}

// The optimiser state stored in `file` for `optimizer`'s parameters, validated so that
// ImportState accepts it.
absl::StatusOr<OptimizerState> ReadOptimizerState(const std::string& path,
                                                  const SafeTensors& file,
                                                  const CheckpointMetadata& meta,
                                                  Optimizer& optimizer) {
  if (meta.optimizer != optimizer.type()) {
    return Invalid(
        path, absl::StrCat("the checkpoint's optimizer is ",
                           meta.optimizer.has_value() ? OptimizerName(*meta.optimizer)
                                                      : "none (weights only)",
                           ", the optimizer given is ", OptimizerName(optimizer.type())));
  }
  OptimizerState state;
  state.step = meta.optimizer_step;
  if (optimizer.type() == config::OptimizerType::kSgd) return state;
  for (const Parameter& p : optimizer.params()) {
    OptimizerState::Moments m;
    m.name = p.name;
    EDBP_ASSIGN_OR_RETURN(
        const HostTensor* avg,
        FindTensor(path, file, absl::StrCat(kExpAvgPrefix, p.name), p.value.shape()));
    EDBP_ASSIGN_OR_RETURN(
        const HostTensor* avg_sq,
        FindTensor(path, file, absl::StrCat(kExpAvgSqPrefix, p.name), p.value.shape()));
    m.exp_avg = avg->data;
    m.exp_avg_sq = avg_sq->data;
    state.moments.push_back(std::move(m));
  }
  return state;
}

}  // namespace

std::vector<std::string> RemoveStaleCheckpointTemps(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if ((IsWriteTempOf(name, kLastCheckpoint) || IsWriteTempOf(name, kBestCheckpoint)) &&
        entry.is_regular_file(ec) && std::filesystem::remove(entry.path(), ec)) {
      removed.push_back(entry.path().string());
    }
  }
  return removed;
}

absl::Status SaveCheckpoint(const std::string& path, Network& net,
                            const Optimizer* optimizer, const TrainingState& state) {
  SafeTensors file;
  std::map<std::string, Shape> shapes;
  for (const Parameter& p : net.Parameters()) {
    absl::StatusOr<std::vector<float>> values = p.value.ToHost();
    if (!values.ok()) return Annotate(values.status(), path, p.name);
    file.tensors[p.name] = {p.value.shape(), *std::move(values)};
    shapes[p.name] = p.value.shape();
  }

  int64_t optimizer_step = 0;
  std::string optimizer_name = kNoOptimizer;
  if (optimizer != nullptr) {
    absl::StatusOr<OptimizerState> exported = optimizer->ExportState();
    if (!exported.ok()) return Annotate(exported.status(), path, "optimizer state");
    optimizer_step = exported->step;
    optimizer_name = OptimizerName(optimizer->type());
    for (OptimizerState::Moments& m : exported->moments) {
      auto shape = shapes.find(m.name);
      if (shape == shapes.end() ||
          static_cast<size_t>(NumElements(shape->second)) != m.exp_avg.size()) {
        return Invalid(path, absl::StrCat("the optimizer's parameter '", m.name,
                                          "' is not a parameter of the network"));
      }
      file.tensors[absl::StrCat(kExpAvgPrefix, m.name)] = {shape->second,
                                                           std::move(m.exp_avg)};
      file.tensors[absl::StrCat(kExpAvgSqPrefix, m.name)] = {shape->second,
                                                             std::move(m.exp_avg_sq)};
    }
  }

  file.metadata["format"] = kFormat;
  file.metadata["epoch"] = absl::StrCat(state.epoch);
  file.metadata["optimizer_step"] = absl::StrCat(optimizer_step);
  file.metadata["optimizer"] = optimizer_name;
  file.metadata["best_test_accuracy"] = FormatDouble(state.best_test_accuracy);
  file.metadata["best_epoch"] = absl::StrCat(state.best_epoch);
  file.metadata["seed"] = absl::StrCat(state.seed);
  if (state.epochs > 0) file.metadata["epochs"] = absl::StrCat(state.epochs);
  file.metadata["network_rng"] = RngState(net.rng());
  file.metadata["config"] = state.config_text;
  if (state.records > 0) file.metadata["records"] = absl::StrCat(state.records);
  if (state.progress.has_value()) {
    const EpochProgress& p = *state.progress;
    file.metadata["epoch_batch"] = absl::StrCat(p.batch);
    file.metadata["epoch_batches"] = absl::StrCat(p.batches);
    file.metadata["epoch_loss_total"] = FormatDouble(p.loss_total);
    file.metadata["epoch_correct"] = absl::StrCat(p.correct);
    file.metadata["epoch_seen"] = absl::StrCat(p.seen);
    file.metadata[kLayerSums] = LayerSumsText(p.layers);
    for (size_t k = 0; k < p.layers.size(); ++k) {
      const std::vector<float>& counts = p.layers[k].spike_counts;
      file.tensors[absl::StrCat(kSpikeCountsPrefix, k)] = {
          {static_cast<int64_t>(counts.size())}, counts};
    }
  }
  RenameKeys(file, ReferenceResNetNames(net), /*to_reference=*/true);
  return WriteSafeTensors(path, file);
}

absl::StatusOr<TrainingState> LoadCheckpoint(const std::string& path, Network& net,
                                             Optimizer* optimizer) {
  EDBP_ASSIGN_OR_RETURN(const SafeTensors file, ReadSafeTensors(path));
  return RestoreCheckpoint(path, file, net, optimizer);
}

absl::StatusOr<TrainingState> RestoreCheckpoint(const std::string& path,
                                                const SafeTensors& contents, Network& net,
                                                Optimizer* optimizer) {
  SafeTensors renamed;
  const SafeTensors& file = UnderEdbpNames(contents, net, renamed);
  // Validate everything before changing anything.
  EDBP_ASSIGN_OR_RETURN(CheckpointMetadata meta, ParseMetadata(path, file));
  const std::vector<Parameter> params = net.Parameters();
  EDBP_ASSIGN_OR_RETURN(const std::vector<const HostTensor*> values,
                        MatchParameters(path, file, params));
  std::optional<OptimizerState> optimizer_state;
  if (optimizer != nullptr) {
    EDBP_ASSIGN_OR_RETURN(optimizer_state,
                          ReadOptimizerState(path, file, meta, *optimizer));
    // ImportState validates again before it changes anything, so it goes first.
    absl::Status s = optimizer->ImportState(*optimizer_state);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  EDBP_RETURN_IF_ERROR(CopyParameters(path, params, values));
  net.rng() = meta.rng;
  return std::move(meta.state);
}

absl::Status LoadWeights(const std::string& path, Network& net) {
  EDBP_ASSIGN_OR_RETURN(const SafeTensors file, ReadSafeTensors(path));
  return RestoreWeights(path, file, net);
}

absl::Status CheckWeightsFit(const std::string& path, const config::Config& config) {
  // LoadWeights itself, into a network made only for it: the same checks by
  // construction.
  kernels::CpuBackend backend;
  EDBP_ASSIGN_OR_RETURN(const std::unique_ptr<Network> net,
                        Network::Create(config, &backend, /*seed=*/0));
  return LoadWeights(path, *net);
}

absl::Status RestoreWeights(const std::string& path, const SafeTensors& contents,
                            Network& net) {
  SafeTensors renamed;
  const SafeTensors& file = UnderEdbpNames(contents, net, renamed);
  const std::vector<Parameter> params = net.Parameters();
  EDBP_ASSIGN_OR_RETURN(const std::vector<const HostTensor*> values,
                        MatchParameters(path, file, params));
  return CopyParameters(path, params, values);
}

}  // namespace edbp::train

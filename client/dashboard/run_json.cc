#include "client/dashboard/run_json.h"

#include <exception>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/class_names.h"
#include "client/common/json.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace edbp::dashboard {
namespace {

constexpr int kMaxDepth = 4;  // Layers.conv_1.key is 3
constexpr size_t kMaxKeys = 4096;

std::string Dump(const nlohmann::json& doc) {
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Adds `node` under `path` to `out`; an error names the path.
absl::Status Flatten(const YAML::Node& node, const std::string& path, int depth,
                     std::map<std::string, std::string>* out) {
  if (out->size() > kMaxKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("the config has more than ", kMaxKeys, " keys"));
  }
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (depth >= kMaxDepth) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": nested deeper than ", kMaxDepth, " levels"));
      }
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": a key is no scalar"));
        }
        absl::Status s = Flatten(
            entry.second, absl::StrCat(path, ".", entry.first.Scalar()), depth + 1, out);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    case YAML::NodeType::Sequence: {
      YAML::Emitter flow;
      flow.SetSeqFormat(YAML::Flow);
      flow.SetMapFormat(YAML::Flow);
      flow << node;
      (*out)[path] = flow.c_str();
      return absl::OkStatus();
    }
    case YAML::NodeType::Scalar:
      (*out)[path] = node.Scalar();
      return absl::OkStatus();
    default:  // null, undefined
      (*out)[path] = "";
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> FlattenConfig(std::string_view yaml) {
  std::map<std::string, std::string> out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) {
      return absl::InvalidArgumentError("the config is no YAML mapping");
    }
    for (const char* section : {"Network", "Layers"}) {
      const YAML::Node node = root[section];
      if (!node) continue;
      absl::Status s = Flatten(node, section, 1, &out);
      if (!s.ok()) return s;
    }
  } catch (const std::exception& e) {  // yaml-cpp reports everything by exceptions
    return absl::InvalidArgumentError(
        absl::StrCat("the config is no valid YAML: ", e.what()));
  }
  return out;
}

std::string JobDetailJson(const v1::Job& job) {
  nlohmann::json doc = nlohmann::json::parse(client::ToJson(job), nullptr, false);
  if (doc.is_discarded()) doc = nlohmann::json::object();
  absl::StatusOr<std::map<std::string, std::string>> config =
      FlattenConfig(job.config_yaml());
  doc["class_names"] = nlohmann::json::array();
  if (config.ok()) {
    doc["config"] = *config;
    doc["config_error"] = "";
    if (const auto dataset = config->find("Network.dataset"); dataset != config->end()) {
      for (std::string_view name : ClassNames(dataset->second)) {
        doc["class_names"].push_back(name);
      }
    }
  } else {
    doc["config"] = nullptr;
    doc["config_error"] = std::string(config.status().message());
  }
  return Dump(doc);
}

void AddEpochRecord(const v1::EpochMetrics& m, std::vector<v1::EpochMetrics>* records) {
  while (!records->empty() && records->back().epoch() >= m.epoch()) records->pop_back();
  records->push_back(m);
}

std::string EpochsJson(const v1::Job& job, const std::vector<v1::EpochMetrics>& records) {
  nlohmann::json epochs = nlohmann::json::array();
  std::optional<std::pair<double, int64_t>> best;
  for (const v1::EpochMetrics& m : records) {
    epochs.push_back({{"epoch", m.epoch()},
                      {"epochs", m.epochs()},
                      {"train_loss", m.train_loss()},
                      {"test_loss", m.test_loss()},
                      {"train_accuracy", m.train_accuracy()},
                      {"test_accuracy", m.test_accuracy()},
                      {"learning_rate", m.learning_rate()},
                      {"seconds", m.seconds()},
                      {"best", m.best()}});
    if (!best.has_value() || m.test_accuracy() > best->first) {
      best = std::make_pair(m.test_accuracy(), m.epoch());
    }
  }
  nlohmann::json doc = {{"job", job.name()},
                        {"display_name", job.display_name()},
                        {"state", v1::JobState_Name(job.state())},
                        {"seed", job.seed()},
                        {"epochs_total", job.epochs()},
                        {"epochs", std::move(epochs)},
                        {"best_test_accuracy", nullptr},
                        {"best_epoch", nullptr}};
  if (best.has_value()) {
    doc["best_test_accuracy"] = best->first;
    doc["best_epoch"] = best->second;
  }
  return Dump(doc);
}

std::string SweepListJson(const std::vector<v1::Sweep>& sweeps,
                          const std::string& error) {
  nlohmann::json list = nlohmann::json::array();
  for (const v1::Sweep& sweep : sweeps) {
    v1::Sweep shown = sweep;
    shown.clear_config_yaml();
    nlohmann::json entry = nlohmann::json::parse(client::ToJson(shown), nullptr, false);
    if (!entry.is_discarded()) list.push_back(std::move(entry));
  }
  return Dump(nlohmann::json{
      {"reachable", error.empty()}, {"error", error}, {"sweeps", std::move(list)}});
}

}  // namespace edbp::dashboard

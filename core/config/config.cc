#include "core/config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/config/enum_names.h"
#include "core/config/sections.h"
#include "core/config/shape_inference.h"
#include "core/config/yaml_fields.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace edbp::config {
namespace {

using internal::Describe;
using internal::ErrorList;
using internal::MapReader;

constexpr absl::string_view kTopLevelKeys[] = {"Network", "Layers"};

std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

// Counts documents and ignores their contents.
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// At most this many documents are counted: a config has one. yaml-cpp 0.7's LoadAll
// never returns on a ',' that begins a document (",", "- a\n,", "---\n,"): each turn
// of its loop makes another empty document without consuming the ','. So the
// documents are counted first, with a bound, and only a single one is built.
constexpr int kMaxDocuments = 16;

// The documents of `text` (empty or one; more are only counted: `count`), or the
// syntax error as "source:line:column: message".
absl::StatusOr<std::vector<YAML::Node>> LoadYaml(const std::string& text,
                                                 const std::string& source, int* count) {
  try {
    {
      std::istringstream in(text);
      YAML::Parser parser(in);
      DocumentCounter counter;
      *count = 0;
      while (*count <= kMaxDocuments && parser.HandleNextDocument(counter)) ++*count;
    }
    if (*count > 1) return std::vector<YAML::Node>();
    return std::vector<YAML::Node>{YAML::Load(text)};
  } catch (const YAML::ParserException& e) {
    if (e.mark.is_null())
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.msg));
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  } catch (const std::exception& e) {  // yaml-cpp reports everything by exceptions
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
}

// A top-level section: present and a map, else reported.
std::optional<YAML::Node> Section(const MapReader& top, absl::string_view name,
                                  ErrorList* errors) {
  std::optional<YAML::Node> node = top.Find(name);
  if (!node.has_value()) {
    errors->Add(name, "missing required section");
    return std::nullopt;
  }
  if (!node->IsMap()) {
    errors->Add(name, absl::StrCat("expected a map, got ", Describe(*node)));
    return std::nullopt;
  }
  return node;
}

// File errors: PERMISSION_DENIED when access is refused, NOT_FOUND otherwise.
absl::Status FileError(int error_number, const std::string& path,
                       absl::string_view reason) {
  const std::string message =
      absl::StrCat("cannot read config file \"", path, "\": ", reason);
  if (error_number == EACCES || error_number == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::NotFoundError(message);
}

absl::Status ErrnoFileError(int error_number, const std::string& path) {
  return FileError(error_number, path, std::generic_category().message(error_number));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoFileError(errno, path);
  absl::Status status;
  std::string text;
  struct stat info;
  if (fstat(fd, &info) != 0) {
    status = ErrnoFileError(errno, path);
  } else if (S_ISDIR(info.st_mode)) {
    status = FileError(EISDIR, path, "it is a directory");
  } else {
    char buffer[1 << 16];
    while (true) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) status = ErrnoFileError(errno, path);
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (!status.ok()) return status;
  return text;
}

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view yaml_text,
                                   std::string_view source_name) {
  Config config;
  config.source_name = std::string(source_name);
  config.source_text = std::string(yaml_text);
  const std::string& source = config.source_name;

  int count = 0;
  absl::StatusOr<std::vector<YAML::Node>> documents =
      LoadYaml(config.source_text, source, &count);
  if (!documents.ok()) return documents.status();
  if (count > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected one YAML document, got ",
                     count > kMaxDocuments ? absl::StrCat("more than ", kMaxDocuments)
                                           : absl::StrCat(count),
                     count > kMaxDocuments ? " (a ',' that begins a document?)" : ""));
  }
  if (documents->empty() || (*documents)[0].IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": empty config; expected a map with Network and Layers sections"));
  }
  const YAML::Node& root = (*documents)[0];
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a map with Network and Layers sections, got ",
                     Describe(root)));
  }

  ErrorList errors;
  MapReader top(root, "", &errors);
  top.CheckDuplicates("section");
  top.CheckUnknown(kTopLevelKeys, "the top level");
  const std::optional<YAML::Node> network_node = Section(top, "Network", &errors);
  const std::optional<YAML::Node> layers_node = Section(top, "Layers", &errors);

  internal::NetworkSection network;
  if (network_node.has_value())
    network = internal::ParseNetworkSection(*network_node, &errors);
  if (layers_node.has_value()) {
    internal::LayersSection layers = internal::ParseLayersSection(*layers_node, &errors);
    if (network_node.has_value()) {
      internal::CheckNetworkAgainstLayers(network, layers, &errors);
    }
    internal::InferShapes(network.input_shape, layers.shape_ok, &layers.layers, &errors);
    config.layers = std::move(layers.layers);
  }
  if (!errors.empty()) return errors.ToStatus();

  config.network = std::move(network.config);
  config.input_shape = std::move(network.input_shape);
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path);
}

std::string_view LayerTypeName(LayerType type) {
  return ToStd(internal::NameOf(internal::LayerTypeNames(), type));
}
std::string_view PoolingTypeName(PoolingType type) {
  return ToStd(internal::NameOf(internal::PoolingTypeNames(), type));
}
std::string_view LossTypeName(LossType type) {
  return ToStd(internal::NameOf(internal::LossTypeNames(), type));
}
std::string_view OptimizerTypeName(OptimizerType type) {
  return ToStd(internal::NameOf(internal::OptimizerTypeNames(), type));
}
std::string_view ForwardTypeName(ForwardType type) {
  return ToStd(internal::NameOf(internal::ForwardTypeNames(), type));
}
std::string_view GradientTypeName(GradientType type) {
  return ToStd(internal::NameOf(internal::GradientTypeNames(), type));
}
std::string_view BackendChoiceName(BackendChoice choice) {
  return ToStd(internal::NameOf(internal::BackendChoiceNames(), choice));
}
std::string_view EncodingName(Encoding encoding) {
  return ToStd(internal::NameOf(internal::EncodingNames(), encoding));
}
std::string_view WeightNormBackwardName(WeightNormBackward mode) {
  return ToStd(internal::NameOf(internal::WeightNormBackwardNames(), mode));
}

SampleShape DatasetSampleShape(std::string_view dataset) {
  const internal::DatasetInfo* info =
      internal::FindDataset(absl::string_view(dataset.data(), dataset.size()));
  return info == nullptr ? SampleShape{} : info->sample_shape;
}

bool DatasetDeletesFrames(std::string_view dataset) {
  const internal::DatasetInfo* info =
      internal::FindDataset(absl::string_view(dataset.data(), dataset.size()));
  return info != nullptr && info->deletes_frames;
}

bool IsEventDataset(std::string_view dataset) {
  const internal::DatasetInfo* info =
      internal::FindDataset(absl::string_view(dataset.data(), dataset.size()));
  return info != nullptr && info->is_event;
}

}  // namespace edbp::config

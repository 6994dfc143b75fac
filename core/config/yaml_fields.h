// Typed, error-collecting access to the fields of one YAML map. Every problem becomes
// one line "<field path>: <what was expected>, got <what was found>" in an ErrorList;
// readers never stop at the first error, so a file's errors are reported together.
#ifndef EDBP_CORE_CONFIG_YAML_FIELDS_H_
#define EDBP_CORE_CONFIG_YAML_FIELDS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/config/enum_names.h"
#include "yaml-cpp/yaml.h"

namespace edbp::config::internal {

// The problems found in one file, in the order found.
class ErrorList {
 public:
  void Add(absl::string_view path, absl::string_view message);  // "path: message"
  bool empty() const { return lines_.empty(); }
  size_t size() const { return lines_.size(); }
  // OK when empty, else INVALID_ARGUMENT with one line per problem.
  absl::Status ToStatus() const;

 private:
  std::vector<std::string> lines_;
};

// "Network" + "lr" -> "Network.lr"; "" + "Network" -> "Network".
std::string JoinPath(absl::string_view parent, absl::string_view key);

// How a node reads in a message: "\"abc\"", "an empty value", "a map", "a sequence".
std::string Describe(const YAML::Node& node);

// The 1-based line where `node` starts (0 when unknown).
int LineOf(const YAML::Node& node);

// "64x7x7", "1024": a shape or pair as messages print it.
std::string DimsToString(std::span<const int64_t> dims);

enum class Need {
  kRequired,  // absent: "missing required key"
  kOptional,  // absent: the caller's default stays
};

enum class Bound {
  kPositive,     // > 0
  kNonNegative,  // >= 0
  kAny,          // any finite number
};

// Integers in configs are sizes and counts: at most this (int32 range).
inline constexpr int64_t kMaxInt = 2147483647;

class MapReader {
 public:
  // `map` is a YAML map; `path` is its field path ("Network", "Layers.conv_1", "").
  MapReader(const YAML::Node& map, std::string path, ErrorList* errors);

  const std::string& path() const { return path_; }
  std::string FieldPath(absl::string_view key) const { return JoinPath(path_, key); }
  // Records "<path>.<key>: message".
  void Error(absl::string_view key, absl::string_view message);

  // Reports keys that are not strings and keys given twice ("duplicate <what> (first
  // at line 12)").
  void CheckDuplicates(absl::string_view what);
  // Reports string keys outside `known`, with the closest known key ("unknown key;
  // did you mean kernel_size?") or, when none is close, the list of `owner`'s keys.
  void CheckUnknown(std::span<const absl::string_view> known, absl::string_view owner);

  bool Has(absl::string_view key) const { return Find(key).has_value(); }
  // The value of the first occurrence of `key`.
  std::optional<YAML::Node> Find(absl::string_view key) const;

  // Typed readers. Each returns true when *out holds a usable value: the one given,
  // or the caller's default when an optional key is absent. Otherwise it records the
  // problem (missing required key, wrong type, out of range) and returns false.
  bool Int(absl::string_view key, Need need, int64_t min, int64_t* out);
  bool Number(absl::string_view key, Need need, Bound bound, double* out);
  bool Bool(absl::string_view key, Need need, bool* out);
  bool String(absl::string_view key, Need need, std::string* out);
  // An integer n (-> {n, n}) or the reference's string "(h, w)" (layers/functions.py
  // readConfig); both values >= min.
  bool Pair(absl::string_view key, Need need, int64_t min, std::array<int64_t, 2>* out);
  // A sequence of integers >= min, e.g. [1, 28, 28].
  bool IntList(absl::string_view key, Need need, int64_t min, std::vector<int64_t>* out);
  // One of `names`; *index is -1 when an optional key is absent. `kind` names the
  // value in messages: "unknown optimizer \"Adamax\"; expected one of SGD, Adam, ...".
  bool Choice(absl::string_view key, Need need, absl::string_view kind,
              std::span<const absl::string_view> names, int* index);

  template <typename E>
  bool Enum(absl::string_view key, Need need, absl::string_view kind,
            std::span<const EnumName<E>> table, E* out) {
    const std::vector<absl::string_view> names = NamesOf(table);
    int index = -1;
    if (!Choice(key, need, kind, names, &index)) return false;
    if (index >= 0) *out = table[static_cast<size_t>(index)].value;
    return true;
  }

 private:
  // The node of `key` when present. When absent, records "missing required key;
  // expected <expected>" if required, and sets *absent_ok to (need == kOptional).
  std::optional<YAML::Node> Lookup(absl::string_view key, Need need,
                                   absl::string_view expected, bool* absent_ok);

  YAML::Node map_;
  std::string path_;
  ErrorList* errors_;
};

}  // namespace edbp::config::internal

#endif  // EDBP_CORE_CONFIG_YAML_FIELDS_H_

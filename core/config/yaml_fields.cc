#include "core/config/yaml_fields.h"

#include <charconv>
#include <cmath>
#include <map>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/edit_distance.h"

namespace edbp::config::internal {
namespace {

// Longest scalar quoted back in a message.
constexpr size_t kMaxQuoted = 60;

// yaml-cpp tags a quoted scalar "!" and a plain one "?".
bool IsQuoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

// A scalar a number may be read from: plain (unquoted).
bool IsPlainScalar(const YAML::Node& node) { return node.IsScalar() && !IsQuoted(node); }

// Describe(), saying "the string" for a quoted scalar where a number was expected.
std::string DescribeAsNumber(const YAML::Node& node) {
  if (node.IsScalar() && IsQuoted(node))
    return absl::StrCat("the string ", Describe(node));
  return Describe(node);
}

enum class IntParse {
  kOk,
  kNotAnInteger,
  kOutOfRange,  // an integer beyond int64
};

// Decimal integer with an optional sign, as Python's int() reads the reference's
// "(h, w)" parts and as YAML reads a plain integer.
IntParse ParseInt(absl::string_view text, int64_t* value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return IntParse::kNotAnInteger;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  if (ptr != end) return IntParse::kNotAnInteger;
  if (ec == std::errc::result_out_of_range) return IntParse::kOutOfRange;
  if (ec != std::errc()) return IntParse::kNotAnInteger;
  return IntParse::kOk;
}

// A finite decimal number ("0.0005", "5", "1e-4"; PyYAML's YAML 1.1 would read the
// last as a string, edbp accepts it).
bool ParseNumber(absl::string_view text, double* value) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && std::isfinite(*value);
}

// YAML 1.1 booleans, as PyYAML reads them.
bool ParseBool(absl::string_view text, bool* value) {
  static constexpr absl::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes",
                                                "YES",  "on",   "On",   "ON"};
  static constexpr absl::string_view kFalse[] = {"false", "False", "FALSE", "no", "No",
                                                 "NO",    "off",   "Off",   "OFF"};
  for (absl::string_view t : kTrue) {
    if (text == t) {
      *value = true;
      return true;
    }
  }
  for (absl::string_view f : kFalse) {
    if (text == f) {
      *value = false;
      return true;
    }
  }
  return false;
}

std::string IntExpectation(int64_t min) { return absl::StrCat("an integer >= ", min); }

std::string NumberExpectation(Bound bound) {
  switch (bound) {
    case Bound::kPositive:
      return "a number > 0";
    case Bound::kNonNegative:
      return "a number >= 0";
    case Bound::kAny:
      break;
  }
  return "a number";
}

bool InBound(double value, Bound bound) {
  switch (bound) {
    case Bound::kPositive:
      return value > 0;
    case Bound::kNonNegative:
      return value >= 0;
    case Bound::kAny:
      break;
  }
  return true;
}

}  // namespace

void ErrorList::Add(absl::string_view path, absl::string_view message) {
  lines_.push_back(absl::StrCat(path, ": ", message));
}

absl::Status ErrorList::ToStatus() const {
  if (lines_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n"));
}

std::string JoinPath(absl::string_view parent, absl::string_view key) {
  if (parent.empty()) return std::string(key);
  return absl::StrCat(parent, ".", key);
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "an empty value";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      break;
  }
  absl::string_view text = node.Scalar();
  const bool cut = text.size() > kMaxQuoted;
  if (cut) text = text.substr(0, kMaxQuoted);
  return absl::StrCat("\"", absl::CEscape(text), cut ? "...\"" : "\"");
}

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string DimsToString(std::span<const int64_t> dims) {
  return absl::StrJoin(dims.begin(), dims.end(), "x");
}

MapReader::MapReader(const YAML::Node& map, std::string path, ErrorList* errors)
    : map_(map), path_(std::move(path)), errors_(errors) {}

void MapReader::Error(absl::string_view key, absl::string_view message) {
  errors_->Add(FieldPath(key), message);
}

void MapReader::CheckDuplicates(absl::string_view what) {
  std::map<std::string, int, std::less<>> first_line;
  // Range-for: yaml-cpp's iterator-> returns a proxy whose members die with it.
  for (const auto& entry : map_) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      errors_->Add(path_.empty() ? "(top level)" : path_,
                   absl::StrCat("expected string keys, got ", Describe(key), " at line ",
                                LineOf(key)));
      continue;
    }
    const auto [pos, inserted] = first_line.emplace(key.Scalar(), LineOf(key));
    if (!inserted) {
      Error(key.Scalar(),
            absl::StrCat("duplicate ", what, " (first at line ", pos->second, ")"));
    }
  }
}

void MapReader::CheckUnknown(std::span<const absl::string_view> known,
                             absl::string_view owner) {
  for (const auto& entry : map_) {
    if (!entry.first.IsScalar()) continue;  // CheckDuplicates reports it
    const std::string& key = entry.first.Scalar();
    bool is_known = false;
    for (absl::string_view k : known) is_known = is_known || k == key;
    if (is_known) continue;
    if (std::optional<std::string> close = ClosestMatch(key, known)) {
      Error(key, absl::StrCat("unknown key; did you mean ", *close, "?"));
    } else {
      Error(key, absl::StrCat("unknown key; expected one of ",
                              absl::StrJoin(known.begin(), known.end(), ", "),
                              " (keys of ", owner, ")"));
    }
  }
}

std::optional<YAML::Node> MapReader::Find(absl::string_view key) const {
  for (const auto& entry : map_) {
    if (entry.first.IsScalar() && entry.first.Scalar() == key) return entry.second;
  }
  return std::nullopt;
}

std::optional<YAML::Node> MapReader::Lookup(absl::string_view key, Need need,
                                            absl::string_view expected, bool* absent_ok) {
  std::optional<YAML::Node> node = Find(key);
  if (!node.has_value()) {
    *absent_ok = need == Need::kOptional;
    if (!*absent_ok)
      Error(key, absl::StrCat("missing required key; expected ", expected));
  }
  return node;
}

bool MapReader::Int(absl::string_view key, Need need, int64_t min, int64_t* out) {
  const std::string expected = IntExpectation(min);
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, expected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  int64_t value = 0;
  const IntParse parsed =
      IsPlainScalar(*node) ? ParseInt(node->Scalar(), &value) : IntParse::kNotAnInteger;
  if (parsed == IntParse::kNotAnInteger) {
    Error(key, absl::StrCat("expected ", expected, ", got ", DescribeAsNumber(*node)));
    return false;
  }
  if (parsed == IntParse::kOutOfRange || value > kMaxInt) {
    Error(key,
          absl::StrCat("expected an integer <= ", kMaxInt, ", got ", node->Scalar()));
    return false;
  }
  if (value < min) {
    Error(key, absl::StrCat("expected ", expected, ", got ", node->Scalar()));
    return false;
  }
  *out = value;
  return true;
}

bool MapReader::Number(absl::string_view key, Need need, Bound bound, double* out) {
  const std::string expected = NumberExpectation(bound);
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, expected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  double value = 0;
  if (!IsPlainScalar(*node) || !ParseNumber(node->Scalar(), &value)) {
    Error(key, absl::StrCat("expected ", expected, ", got ", DescribeAsNumber(*node)));
    return false;
  }
  if (!InBound(value, bound)) {
    Error(key, absl::StrCat("expected ", expected, ", got ", node->Scalar()));
    return false;
  }
  *out = value;
  return true;
}

bool MapReader::Bool(absl::string_view key, Need need, bool* out) {
  constexpr absl::string_view kExpected = "true or false";
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, kExpected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  bool value = false;
  if (!IsPlainScalar(*node) || !ParseBool(node->Scalar(), &value)) {
    Error(key, absl::StrCat("expected ", kExpected, ", got ", DescribeAsNumber(*node)));
    return false;
  }
  *out = value;
  return true;
}

bool MapReader::String(absl::string_view key, Need need, std::string* out) {
  constexpr absl::string_view kExpected = "a string";
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, kExpected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  if (!node->IsScalar()) {
    Error(key, absl::StrCat("expected ", kExpected, ", got ", Describe(*node)));
    return false;
  }
  *out = node->Scalar();
  return true;
}

bool MapReader::Pair(absl::string_view key, Need need, int64_t min,
                     std::array<int64_t, 2>* out) {
  const std::string expected =
      absl::StrCat("an integer >= ", min, " or \"(h, w)\" with h, w >= ", min);
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, expected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  std::array<int64_t, 2> value = {0, 0};
  bool parsed = false;
  bool out_of_range = false;
  if (node->IsScalar()) {
    absl::string_view text = node->Scalar();
    const IntParse single =
        IsPlainScalar(*node) ? ParseInt(text, &value[0]) : IntParse::kNotAnInteger;
    if (single != IntParse::kNotAnInteger) {
      out_of_range = single == IntParse::kOutOfRange;
      value[1] = value[0];
      parsed = true;
    } else if (text.size() >= 2 && text.front() == '(' && text.back() == ')') {
      const std::vector<absl::string_view> parts =
          absl::StrSplit(text.substr(1, text.size() - 2), ',');
      if (parts.size() == 2) {
        parsed = true;
        for (size_t i = 0; i < 2; ++i) {
          const IntParse p = ParseInt(absl::StripAsciiWhitespace(parts[i]), &value[i]);
          parsed = parsed && p != IntParse::kNotAnInteger;
          out_of_range = out_of_range || p == IntParse::kOutOfRange;
        }
      }
    }
  }
  if (!parsed) {
    // A quoted "(h, w)" is fine; a quoted "5" is not (the reference reads it as a
    // string).
    const bool pair_like =
        node->IsScalar() && !node->Scalar().empty() && node->Scalar().front() == '(';
    Error(key, absl::StrCat("expected ", expected, ", got ",
                            pair_like ? Describe(*node) : DescribeAsNumber(*node)));
    return false;
  }
  if (out_of_range || value[0] > kMaxInt || value[1] > kMaxInt) {
    Error(key, absl::StrCat("expected integers <= ", kMaxInt, ", got ", node->Scalar()));
    return false;
  }
  if (value[0] < min || value[1] < min) {
    Error(key, absl::StrCat("expected ", expected, ", got ", node->Scalar()));
    return false;
  }
  *out = value;
  return true;
}

bool MapReader::IntList(absl::string_view key, Need need, int64_t min,
                        std::vector<int64_t>* out) {
  const std::string expected = absl::StrCat("a list of integers >= ", min);
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, expected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  if (!node->IsSequence()) {
    Error(key, absl::StrCat("expected ", expected, ", got ", DescribeAsNumber(*node)));
    return false;
  }
  std::vector<int64_t> values;
  std::vector<std::string> shown;  // the elements as written, for the message
  bool ok = true;
  for (const YAML::Node& element : *node) {
    int64_t value = 0;
    ok = ok && IsPlainScalar(element) &&
         ParseInt(element.Scalar(), &value) == IntParse::kOk && value >= min &&
         value <= kMaxInt;
    values.push_back(value);
    shown.push_back(element.IsScalar() ? element.Scalar() : Describe(element));
  }
  if (!ok) {
    Error(key, absl::StrCat("expected ", expected, ", got [", absl::StrJoin(shown, ", "),
                            "]"));
    return false;
  }
  *out = std::move(values);
  return true;
}

bool MapReader::Choice(absl::string_view key, Need need, absl::string_view kind,
                       std::span<const absl::string_view> names, int* index) {
  const std::string expected =
      absl::StrCat("one of ", absl::StrJoin(names.begin(), names.end(), ", "));
  *index = -1;
  bool absent_ok = false;
  const std::optional<YAML::Node> node = Lookup(key, need, expected, &absent_ok);
  if (!node.has_value()) return absent_ok;
  if (!node->IsScalar()) {
    Error(key, absl::StrCat("expected ", expected, ", got ", Describe(*node)));
    return false;
  }
  const std::string& text = node->Scalar();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) {
      *index = static_cast<int>(i);
      return true;
    }
  }
  std::string message =
      absl::StrCat("unknown ", kind, " ", Describe(*node), "; expected ", expected);
  if (std::optional<std::string> close = ClosestMatch(text, names)) {
    absl::StrAppend(&message, "; did you mean ", *close, "?");
  }
  Error(key, message);
  return false;
}

}  // namespace edbp::config::internal

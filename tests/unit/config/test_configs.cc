#include "tests/unit/config/test_configs.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "core/config/config.h"
#include "gtest/gtest.h"

namespace edbp::config::testing {

std::string Replace(std::string_view base, std::string_view from, std::string_view to) {
  std::string text(base);
  const size_t pos = text.find(from);
  if (pos == std::string::npos || text.find(from, pos + 1) != std::string::npos) {
    ADD_FAILURE() << "\"" << from << "\" must occur exactly once in the base config";
    return text;
  }
  text.replace(pos, from.size(), to);
  return text;
}

std::string FashionMnistWith(
    const std::vector<std::pair<std::string_view, std::string_view>>& edits) {
  std::string text = kFashionMnist;
  for (const auto& [from, to] : edits) text = Replace(text, from, to);
  return text;
}

std::vector<std::string> ErrorLines(const std::string& yaml) {
  const absl::StatusOr<Config> config = ParseConfig(yaml, "test.yaml");
  if (config.ok()) {
    ADD_FAILURE() << "expected the config to be rejected:\n" << yaml;
    return {};
  }
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  return absl::StrSplit(message, '\n');
}

}  // namespace edbp::config::testing

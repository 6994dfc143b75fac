// Command-line parsing shared by edbp-server and edbp-train (Abseil flags).
#ifndef EDBP_BASE_FLAG_SPELLING_H_
#define EDBP_BASE_FLAG_SPELLING_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace edbp {

// Abseil flag names use '_'; the documented spelling is '--data-dir'. Rewrites the name
// part of every "--name[=value]" argument (up to a bare "--") so both work.
inline std::vector<std::string> DashesToUnderscores(int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& a = out[i];
    if (a == "--") break;
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') continue;
    const size_t end = std::min(a.find('='), a.size());
    for (size_t j = 2; j < end; ++j) {
      if (a[j] == '-') a[j] = '_';
    }
  }
  return out;
}

// Sets the usage text, makes --help list the flags defined in `main_file` (a path
// suffix such as "server/server_main.cc"; Abseil's default looks for a file named after
// the binary), and parses with either flag spelling. Returns the positional arguments,
// argv[0] first. Exits the process for --help and for unknown or malformed flags.
inline std::vector<std::string> ParseFlags(int argc, char** argv, const char* usage,
                                           const char* main_file) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [main_file](absl::string_view path) {
    return absl::EndsWith(path, main_file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  std::vector<std::string> storage = DashesToUnderscores(argc, argv);
  std::vector<char*> raw;
  raw.reserve(storage.size());
  for (std::string& a : storage) raw.push_back(a.data());
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  return {positional.begin(), positional.end()};
}

}  // namespace edbp

#endif  // EDBP_BASE_FLAG_SPELLING_H_

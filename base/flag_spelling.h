// Command-line parsing shared by edbp-server and edbp-train (Abseil flags): both flag
// spellings, a did-you-mean for typos, and usage errors returned (the binaries exit 2 on
// them) instead of Abseil's exit 1.
#ifndef EDBP_BASE_FLAG_SPELLING_H_
#define EDBP_BASE_FLAG_SPELLING_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/edit_distance.h"

namespace edbp {

// The documented spelling of an Abseil flag name: "out_dir" -> "--out-dir".
inline std::string DocumentedFlag(absl::string_view name) {
  return absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}}));
}

// The flags defined in `main_file` (a path suffix), in their documented spelling: the
// candidates of a did-you-mean, so that a typo is never answered with a library's flag.
inline std::vector<std::string> OwnFlags(absl::string_view main_file) {
  std::vector<std::string> names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), main_file))
      names.push_back(DocumentedFlag(name));
  }
  std::sort(names.begin(), names.end());  // GetAllFlags' order is a hash map's
  return names;
}

// The flag `name` (without dashes, '_' spelling) names and whether it was given in the
// "no" form of a bool flag (--notensorboard); nullptr when there is none.
inline absl::CommandLineFlag* LocateFlag(absl::string_view name, bool* negative) {
  *negative = false;
  if (absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name)) return flag;
  if (absl::ConsumePrefix(&name, "no")) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag != nullptr && flag->IsOfType<bool>()) {
      *negative = true;
      return flag;
    }
  }
  return nullptr;
}

// Reads `argv` as absl::ParseCommandLine will (flags "-name" or "--name", "=value" or
// the next argument as the value of a flag that is not a bool, "--" ending the flags)
// and returns it with every flag name in Abseil's '_' spelling, so that --data-dir and
// --data_dir both work ("-h" becomes "--help"). Values are left as they are. A flag
// that does not exist, a missing value or one the flag's type refuses is
// INVALID_ARGUMENT naming the flag, with the closest of `main_file`'s flags when one is
// close (a typo); Abseil would print its own message and exit 1. Valid values are set
// here already, and again, to the same, by the parse that follows.
//
// --flagfile=F1,F2 (Abseil's) is expanded here, as Abseil reads such a file: one
// argument per line, leading whitespace stripped, empty lines and '#' comments skipped;
// a file named inside is read in turn. Its flags then get the same checks, and an error
// names the file and line ("/etc/edbp/flags:3: unknown flag ..."). A file that cannot
// be read, is over 1 MiB, holds a line that is not a flag, or more than 32 files read
// (one that names itself) are INVALID_ARGUMENT too.
inline absl::StatusOr<std::vector<std::string>> NormalizeFlags(
    int argc, char** argv, absl::string_view main_file) {
  constexpr int kMaxFlagfiles = 32;
  constexpr uintmax_t kMaxFlagfileBytes = uintmax_t{1} << 20;
  std::vector<std::string> out(argv, argv + argc);
  std::vector<std::string> origin(out.size());  // "FILE:LINE" of a flagfile's argument
  int flagfiles = 0;
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& arg = out[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;  // a positional argument, or "-"
    if (arg == "-h") arg = "--help";
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const size_t eq = std::min(arg.find('='), arg.size());
    for (size_t j = dashes; j < eq; ++j) {
      if (arg[j] == '-') arg[j] = '_';
    }
    const std::string name = arg.substr(dashes, eq - dashes);
    const std::string where = origin[i].empty() ? "" : absl::StrCat(origin[i], ": ");
    if (name == "flagfile") {
      std::string files;
      size_t used = 1;
      if (eq < arg.size()) {
        files = arg.substr(eq + 1);
      } else if (i + 1 < out.size()) {
        files = out[i + 1];
        used = 2;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "--flagfile needs a value"));
      }
      std::vector<std::string> lines, line_origins;
      for (absl::string_view file : absl::StrSplit(files, ',', absl::SkipEmpty())) {
        if (++flagfiles > kMaxFlagfiles) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, "--flagfile: more than ", kMaxFlagfiles,
                           " files read (does one name itself?)"));
        }
        const std::string path(file);
        std::error_code size_error;
        const uintmax_t bytes = std::filesystem::file_size(path, size_error);
        std::ifstream in(path);
        if (size_error || !in) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, "--flagfile: cannot read ", path,
              size_error ? absl::StrCat(" (", size_error.message(), ")") : ""));
        }
        if (bytes > kMaxFlagfileBytes) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, "--flagfile: ", path, " has ", bytes,
                           " bytes; a flag file holds at most ", kMaxFlagfileBytes,
                           " (one flag per line)"));
        }
        int number = 0;
        for (std::string line; std::getline(in, line);) {
          ++number;
          const absl::string_view text = absl::StripLeadingAsciiWhitespace(line);
          if (text.empty() || text[0] == '#') continue;
          if (text[0] != '-' || text == "--") {
            return absl::InvalidArgumentError(absl::StrCat(
                path, ":", number, ": expected a flag (--name=value), got '", text, "'"));
          }
          lines.emplace_back(text);
          line_origins.push_back(absl::StrCat(path, ":", number));
        }
      }
      // The file's arguments take the place of --flagfile and its value, and are read
      // next.
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(i),
                out.begin() + static_cast<std::ptrdiff_t>(i + used));
      origin.erase(origin.begin() + static_cast<std::ptrdiff_t>(i),
                   origin.begin() + static_cast<std::ptrdiff_t>(i + used));
      out.insert(out.begin() + static_cast<std::ptrdiff_t>(i), lines.begin(),
                 lines.end());
      origin.insert(origin.begin() + static_cast<std::ptrdiff_t>(i), line_origins.begin(),
                    line_origins.end());
      --i;
      continue;
    }
    // Abseil's usage flags are no registered flags: its parser reads them by name.
    if (name == "help" || name == "helpfull" || name == "helpshort" ||
        name == "helppackage" || name == "version" || name == "only_check_args" ||
        name == "helpon" || name == "helpmatch") {
      continue;
    }
    const std::string shown = DocumentedFlag(name);
    bool negative = false;
    absl::CommandLineFlag* flag = LocateFlag(name, &negative);
    if (flag == nullptr || flag->IsRetired()) {
      const std::vector<std::string> own = OwnFlags(main_file);
      const std::vector<absl::string_view> candidates(own.begin(), own.end());
      const std::optional<std::string> close = ClosestMatch(shown, candidates);
      return absl::InvalidArgumentError(
          absl::StrCat(where, "unknown flag ", shown,
                       close ? absl::StrCat(" (did you mean ", *close, "?)") : "",
                       "; --help lists the flags"));
    }
    const bool has_value = eq < arg.size();
    if (negative) {
      if (has_value) {
        return absl::InvalidArgumentError(absl::StrCat(where, shown, " takes no value (",
                                                       DocumentedFlag(flag->Name()),
                                                       "=false does)"));
      }
      continue;
    }
    std::string value;
    if (has_value) {
      value = arg.substr(eq + 1);
    } else if (flag->IsOfType<bool>()) {
      continue;  // "--tensorboard" alone is true; the next argument is not its value
    } else if (i + 1 < out.size()) {
      value = out[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, shown, " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, shown, ": '", value, "' is not a valid value (", error, ")"));
    }
  }
  return out;
}

// Sets the usage text, makes --help list only the flags defined in `main_file` (a path
// suffix such as "server/server_args.cc"; Abseil's default looks for a file named after
// the binary, and --helpfull still lists every linked library's), and parses with either
// flag spelling. Returns the positional arguments, argv[0] first. Exits the process with
// status 0 after the help of --help (--helpfull, --helpshort, --version: Abseil's usage
// flags; Abseil itself would exit 1); unknown or malformed flags are INVALID_ARGUMENT
// (NormalizeFlags).
inline absl::StatusOr<std::vector<std::string>> ParseFlags(int argc, char** argv,
                                                           const char* usage,
                                                           const char* main_file) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [main_file](absl::string_view path) {
    return absl::EndsWith(path, main_file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  absl::StatusOr<std::vector<std::string>> storage =
      NormalizeFlags(argc, argv, main_file);
  if (!storage.ok()) return storage.status();
  std::vector<char*> raw;
  raw.reserve(storage->size());
  for (std::string& a : *storage) raw.push_back(a.data());
  // Abseil's own handling of --help would exit 1: the help is printed here, exit 0.
  const std::vector<char*> positional = absl::flags_internal::ParseCommandLineImpl(
      static_cast<int>(raw.size()), raw.data(),
      absl::flags_internal::ArgvListAction::kRemoveParsedArgs,
      absl::flags_internal::UsageFlagsAction::kIgnoreUsage,
      absl::flags_internal::OnUndefinedFlag::kAbortIfUndefined);
  if (absl::flags_internal::HandleUsageFlags(std::cout, absl::ProgramUsageMessage()) !=
      -1) {
    std::cout.flush();
    std::exit(0);
  }
  return std::vector<std::string>(positional.begin(), positional.end());
}

}  // namespace edbp

#endif  // EDBP_BASE_FLAG_SPELLING_H_

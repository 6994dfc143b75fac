// Running the local edbp-train from a client (issue 19: the gradient-flow report of a
// job's checkpoint, made on the client's machine by `edbp-client gradient-flow` and by
// the dashboard): finding the program, a temporary working directory, and a run that
// collects its output.
#ifndef EDBP_CLIENT_COMMON_LOCAL_PROGRAM_H_
#define EDBP_CLIENT_COMMON_LOCAL_PROGRAM_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace edbp::client {

// A directory of its own under the system's temporary directory ("<prefix>-XXXXXX"),
// removed with its contents when this goes out of scope. Make errors: INTERNAL naming
// the pattern.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Make(const std::string& prefix);
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// edbp-train: `given` when not empty (INVALID_ARGUMENT "<flag> PATH: not an executable
// file" otherwise), else the edbp-train next to this process's binary
// (INVALID_ARGUMENT "no edbp-train next to ...: give <flag> PATH" when there is none).
absl::StatusOr<std::string> FindTrainProgram(const std::string& given,
                                             const std::string& flag);

// Runs argv (argv[0] a path) in `cwd` with stdout and stderr into one pipe, no signal
// blocked; returns the exit status (negative: killed by signal -status; 126: `cwd` is
// no directory; 127: argv[0] cannot be run) and the output. INTERNAL when no process
// can be started.
absl::StatusOr<std::pair<int, std::string>> RunProgram(
    const std::vector<std::string>& argv, const std::string& cwd);

// RunProgram's status in words: "exit status 3", "killed by signal 9 (Killed)".
std::string DescribeExitStatus(int status);

}  // namespace edbp::client

#endif  // EDBP_CLIENT_COMMON_LOCAL_PROGRAM_H_

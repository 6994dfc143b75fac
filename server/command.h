// Runs a short external command (sbatch, squeue, scontrol, scancel) and collects its
// output: fork + exec with stdin on /dev/null, stdout and stderr on pipes, a deadline
// after which the command is SIGKILLed. Thread-safe (no state; the child only calls
// async-signal-safe functions between fork and exec).
#ifndef EDBP_SERVER_COMMAND_H_
#define EDBP_SERVER_COMMAND_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace edbp::server {

struct CommandResult {
  int exit_code = -1;  // the exit status; -1 when killed by a signal
  std::string out;     // stdout, at most kMaxCommandOutput bytes
  std::string err;     // stderr, at most kMaxCommandOutput bytes
};

inline constexpr size_t kMaxCommandOutput = size_t{4} << 20;

// Runs argv[0] (looked up in PATH) with `argv`, the server's environment plus `env`
// (overriding). A non-zero exit is a result, not an error. Errors: INTERNAL naming
// argv[0] when it cannot be started (missing program), DEADLINE_EXCEEDED when it ran
// past `timeout` (it is killed).
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::map<std::string, std::string>& env,
                                         std::chrono::milliseconds timeout);

}  // namespace edbp::server

#endif  // EDBP_SERVER_COMMAND_H_

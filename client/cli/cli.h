// The entry point of edbp-client as a function, so tests can run it in-process.
#ifndef EDBP_CLIENT_CLI_CLI_H_
#define EDBP_CLIENT_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace edbp::cli {

// What the process around the command line provides.
struct CliEnvironment {
  // Used when --server is not given.
  std::string default_server = "127.0.0.1:50051";
  // The bearer token when --token-file is not given ($EDBP_TOKEN).
  std::string token;
  // stdout is a terminal: watch rewrites one progress line in place.
  bool interactive = false;
};

// $EDBP_SERVER (when set and not empty), $EDBP_TOKEN and whether stdout is a terminal.
CliEnvironment EnvironmentFromProcess();

// Runs one command line (`args` without the program name), writing results to `out`
// and errors to `err`, and returns the exit code (ExitCode in args.h; the --help text
// lists them). Creates its own gRPC channel; safe to call repeatedly.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& environment = {});

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_CLI_H_

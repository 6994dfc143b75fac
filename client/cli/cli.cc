#include "client/cli/cli.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/client.h"

namespace edbp::cli {

CliEnvironment EnvironmentFromProcess() {
  CliEnvironment environment;
  const char* server = std::getenv("EDBP_SERVER");
  if (server != nullptr && *server != '\0') environment.default_server = server;
  environment.interactive = isatty(STDOUT_FILENO) == 1;
  return environment;
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& environment) {
  absl::StatusOr<Options> options = ParseArgs(args, environment.default_server);
  if (!options.ok()) {
    err << "edbp-client: " << options.status().message() << "\n" << UsageText();
    return static_cast<int>(ExitCode::kUsage);
  }
  if (options->command == Command::kHelp) {
    out << HelpText();
    return static_cast<int>(ExitCode::kOk);
  }
  Client client(*std::move(options), out, err, environment.interactive);
  return static_cast<int>(client.Run());
}

}  // namespace edbp::cli

#include "client/cli/cli.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/channel.h"
#include "client/cli/client.h"
#include "client/cli/dashboard_command.h"
#include "client/cli/gradient_flow_command.h"

namespace edbp::cli {

CliEnvironment EnvironmentFromProcess() {
  CliEnvironment environment;
  const char* server = std::getenv("EDBP_SERVER");
  if (server != nullptr && *server != '\0') environment.default_server = server;
  const char* token = std::getenv(kTokenEnv);
  if (token != nullptr) environment.token = token;
  environment.interactive = isatty(STDOUT_FILENO) == 1;
  return environment;
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& environment) {
  // `dashboard` has its own flags and runs until a signal (dashboard_command.h).
  if (IsDashboardCommand(args)) return RunDashboardCommand(args, out, err, environment);
  // So has `gradient-flow` (gradient_flow_command.h).
  if (IsGradientFlowCommand(args)) {
    return RunGradientFlowCommand(args, out, err, environment);
  }
  absl::StatusOr<Options> options = ParseArgs(args, environment.default_server);
  if (!options.ok()) {
    err << "edbp-client: " << options.status().message() << "\n" << UsageText();
    return static_cast<int>(ExitCode::kUsage);
  }
  if (options->command == Command::kHelp) {
    const std::string& topic = options->help_topic;
    if (topic.empty()) {
      out << HelpText() << DashboardHelpEntry() << GradientFlowHelpEntry();
    } else if (topic == "dashboard") {
      out << DashboardHelpText();
    } else if (topic == "gradient-flow") {
      out << GradientFlowHelpText();
    } else {
      out << CommandHelpText(topic);
    }
    return static_cast<int>(ExitCode::kOk);
  }
  ConnectionOptions connection;
  connection.server = options->server;
  connection.token_file = options->token_file;
  connection.token = environment.token;
  connection.tls = options->tls;
  connection.ca_cert_file = options->ca_cert;
  connection.cert_file = options->cert;
  connection.key_file = options->key;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(connection);
  if (!channel.ok()) {
    err << "edbp-client: " << channel.status().message() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  Client client(*std::move(options), *std::move(channel), out, err,
                environment.interactive);
  return static_cast<int>(client.Run());
}

}  // namespace edbp::cli

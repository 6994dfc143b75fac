// `edbp-client dashboard`: a local web page over edbp-server (client/dashboard/).
//
// The command is recognised before the CLI's own parsing (it has its own flag,
// --listen, and runs until SIGINT/SIGTERM); the global flags (--server, --timeout, the
// credential flags) are parsed by ParseArgs as for every other command, and the
// channel is made by MakeChannel (client/cli/channel.h) exactly as for them.
#ifndef EDBP_CLIENT_CLI_DASHBOARD_COMMAND_H_
#define EDBP_CLIENT_CLI_DASHBOARD_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/cli.h"

namespace edbp::cli {

// The default of --listen.
inline constexpr char kDashboardDefaultListen[] = "127.0.0.1:8080";

// Whether the command of `args` (the first argument that is neither a flag nor a
// flag's value) is "dashboard".
bool IsDashboardCommand(const std::vector<std::string>& args);

struct DashboardCommandLine {
  Options options;  // the global flags (command kList stands for "dashboard")
  std::string listen = kDashboardDefaultListen;
  std::string train_program;  // --train-program ("": next to edbp-client)
  bool help = false;
};

// Parses a dashboard command line; INVALID_ARGUMENT with a one-line message otherwise.
absl::StatusOr<DashboardCommandLine> ParseDashboardArgs(
    const std::vector<std::string>& args, const std::string& default_server);

// Runs `edbp-client dashboard ...` until SIGINT or SIGTERM: prints
// "dashboard on http://HOST:PORT/ (edbp-server at ADDR)" on `out`, then serves.
// Exit codes: 0 after a signal, 1 when it cannot listen or was built without the
// dashboard, 2 for a usage error (bad --listen included).
int RunDashboardCommand(const std::vector<std::string>& args, std::ostream& out,
                        std::ostream& err, const CliEnvironment& environment);

// The dashboard's --help text, and its entry in edbp-client --help.
std::string DashboardHelpText();
std::string DashboardHelpEntry();

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_DASHBOARD_COMMAND_H_

#include "client/cli/dashboard_command.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/cli/channel.h"
#if EDBP_WITH_DASHBOARD
#include "client/dashboard/assets.h"
#include "client/dashboard/dashboard_server.h"
#include "client/dashboard/listen_address.h"
#endif

namespace edbp::cli {
namespace {

absl::Status Usage(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

// Set by a SIGINT/SIGTERM that reached a thread not blocking it: one started before
// BlockedSignals (OpenBLAS starts its pool when the library loads, before main). The
// waiting thread polls it with each sigtimedwait tick.
volatile sig_atomic_t g_stop_signal = 0;

void NoteSignal(int signal) { g_stop_signal = signal; }

// Blocks SIGINT and SIGTERM in the calling thread (and the threads it starts) for its
// lifetime, so that a sigtimedwait thread takes them; in threads that already ran, a
// handler notes them in g_stop_signal for that thread.
class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    g_stop_signal = 0;
    struct sigaction forward = {};
    forward.sa_handler = NoteSignal;
    sigemptyset(&forward.sa_mask);
    sigaction(SIGINT, &forward, &previous_int_);
    sigaction(SIGTERM, &forward, &previous_term_);
  }
  ~BlockedSignals() {
    sigaction(SIGINT, &previous_int_, nullptr);
    sigaction(SIGTERM, &previous_term_, nullptr);
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  const sigset_t& signals() const { return signals_; }

 private:
  sigset_t signals_;
  sigset_t previous_;
  struct sigaction previous_int_ = {};
  struct sigaction previous_term_ = {};
};

}  // namespace

bool IsDashboardCommand(const std::vector<std::string>& args) {
  const size_t at = CommandIndex(args);
  return at < args.size() && args[at] == "dashboard";
}

absl::StatusOr<DashboardCommandLine> ParseDashboardArgs(
    const std::vector<std::string>& args, const std::string& default_server) {
  DashboardCommandLine line;
  const size_t command = CommandIndex(args);
  if (command >= args.size() || args[command] != "dashboard") {
    return Usage("not a dashboard command line");
  }
  std::vector<std::string> rest;
  bool listen_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == command || arg == "--") continue;
    if (arg == "--help" || arg == "-h") {
      line.help = true;
      continue;
    }
    if (arg == "--listen" || arg.rfind("--listen=", 0) == 0) {
      if (listen_seen) return Usage("--listen given twice");
      listen_seen = true;
      if (arg == "--listen") {
        if (i + 1 >= args.size()) return Usage("--listen needs a value (HOST:PORT)");
        line.listen = args[++i];
      } else {
        line.listen = arg.substr(9);
      }
      continue;
    }
    if (arg == "--train-program" || arg.rfind("--train-program=", 0) == 0) {
      if (arg == "--train-program") {
        if (i + 1 >= args.size()) return Usage("--train-program needs a path");
        line.train_program = args[++i];
      } else {
        line.train_program = arg.substr(16);
      }
      if (line.train_program.empty()) return Usage("--train-program needs a path");
      continue;
    }
    rest.push_back(arg);
  }
  if (line.help) return line;
  // The global flags, parsed as for every command ("list" stands in for "dashboard";
  // flags may follow the command).
  rest.insert(rest.begin(), "list");
  absl::StatusOr<Options> options = ParseArgs(rest, default_server);
  if (!options.ok()) {
    return Usage(
        absl::StrReplaceAll(options.status().message(),
                            {{"'list'", "'dashboard'"}, {"list: ", "dashboard: "}}));
  }
  if (options->state_filter != v1::JOB_STATE_UNSPECIFIED) {
    return Usage("--state is not a flag of 'dashboard'");
  }
  line.options = *std::move(options);
  return line;
}

std::string DashboardHelpEntry() {
  return R"(
Dashboard:
  dashboard             Serve a live web page of every job (curves, per-layer
                        gradients, spike activity, submit and cancel) on
                        http://127.0.0.1:8080/ (edbp-client dashboard --help).
      --listen HOST:PORT  where the page is served (default 127.0.0.1:8080)
      --train-program PATH
                          the edbp-train that makes gradient-flow reports
)";
}

std::string DashboardHelpText() {
  return R"(usage: edbp-client [GLOBAL FLAGS] dashboard [--listen HOST:PORT]
                   [--train-program PATH]

Serves a live dashboard of edbp-server's jobs on a local web page: the job table
(state, progress with ETA, best accuracy), and per job the loss and accuracy curves,
learning rate, samples/s, per-layer ‖dL/dW‖ norms, the gradient-sum invariant (Σ
dL/dx out vs Σ dL/dt in per layer), firing rates, silent neurons and the confusion
matrix of the latest epoch (with the data set's class names), and the gradient-flow
report of the job's last or best checkpoint; a config file can be submitted and jobs
cancelled from the page. The labels are those of README "Statistics".
Each job's events are relayed from edbp-server (the full history first, then live);
when edbp-server goes away the page shows "server unreachable" and the relay
reconnects by itself. Runs until Ctrl-C (SIGINT) or SIGTERM.

  --listen HOST:PORT    where to serve the page (default 127.0.0.1:8080; port 0
                        picks a free one). HOST is an IP address, [IPv6] or
                        localhost. The page has no login of its own: keep it on
                        a loopback address unless the network is trusted.
  --train-program PATH  the edbp-train that makes the gradient-flow reports (as
                        `edbp-client gradient-flow` does: on this machine, so the
                        job's data_path must be readable here; default: the one
                        next to edbp-client)

Example:
  edbp-client --server 10.0.0.5:50051 dashboard --listen 127.0.0.1:8080

The global flags (--server, --timeout, --token-file, --tls, --ca-cert, --cert,
--key) work as for every command (edbp-client --help).

Exit codes: 0 stopped by a signal, 1 cannot listen (e.g. the port is in use) or
built without the dashboard, 2 usage error.
)";
}

int RunDashboardCommand(const std::vector<std::string>& args, std::ostream& out,
                        std::ostream& err, const CliEnvironment& environment) {
  absl::StatusOr<DashboardCommandLine> line =
      ParseDashboardArgs(args, environment.default_server);
  if (!line.ok()) {
    err << "edbp-client: " << line.status().message() << "\n"
        << "usage: edbp-client [GLOBAL FLAGS] dashboard [--listen HOST:PORT]\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  if (line->help) {
    out << DashboardHelpText() << std::flush;
    return static_cast<int>(ExitCode::kOk);
  }
#if !EDBP_WITH_DASHBOARD
  err << "edbp-client: this edbp-client was built without the dashboard (node, npm or "
         "cpp-httplib were missing at build time, `npm ci` could not install the page's "
         "packages, or EDBP_DASHBOARD=OFF; the configure step's warning says which); "
         "install them (scripts/install-deps.sh) and rebuild\n";
  return static_cast<int>(ExitCode::kFailed);
#else
  absl::StatusOr<dashboard::ListenAddress> listen =
      dashboard::ParseListenAddress(line->listen);
  if (!listen.ok()) {
    err << "edbp-client: " << listen.status().message() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  const Options& options = line->options;
  ConnectionOptions connection;
  connection.server = options.server;
  connection.token_file = options.token_file;
  connection.token = environment.token;
  connection.tls = options.tls;
  connection.ca_cert_file = options.ca_cert;
  connection.cert_file = options.cert;
  connection.key_file = options.key;

  // Before any thread exists (gRPC's included), so that only the waiter below takes
  // the signals.
  BlockedSignals blocked;
  absl::StatusOr<std::shared_ptr<grpc::Channel> > channel = MakeChannel(connection);
  if (!channel.ok()) {
    err << "edbp-client: " << channel.status().message() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  dashboard::DashboardOptions dashboard_options;
  dashboard_options.server_address = options.server;
  dashboard_options.rpc_timeout = options.timeout;
  dashboard_options.train_program = line->train_program;
  dashboard::DashboardServer server(*std::move(channel), dashboard::EmbeddedAssets(),
                                    dashboard_options);
  if (absl::Status s = server.Listen(*listen); !s.ok()) {
    err << "edbp-client: " << s.message() << "\n";
    return static_cast<int>(ExitCode::kFailed);
  }
  if (!listen->loopback) {
    err << "edbp-client: warning: the dashboard has no login and listens on "
        << listen->host << ": anyone who can reach it can submit and cancel jobs\n";
  }
  dashboard::ListenAddress shown = *listen;
  shown.port = server.port();
  out << "dashboard on http://" << shown.ToString() << "/ (edbp-server at "
      << options.server << ")" << std::endl;

  std::atomic<bool> served{false};
  std::thread waiter([&] {
    const timespec tick = {0, 200 * 1000 * 1000};
    while (!served.load()) {
      if (sigtimedwait(&blocked.signals(), nullptr, &tick) > 0 || g_stop_signal != 0) {
        server.Stop();
        return;
      }
    }
  });
  server.Serve();
  served.store(true);
  waiter.join();
  return static_cast<int>(ExitCode::kOk);
#endif
}

}  // namespace edbp::cli

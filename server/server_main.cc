// edbp-server: the training service. Public gRPC API on --listen (TLS, mTLS and a
// bearer token per server/credentials.h), job processes (edbp-train) reporting over a
// Unix socket in the data dir (mode 0600, no token), SQLite store in the data dir,
// optional /metrics and a plaintext health-only port. SIGTERM/SIGINT drain: running
// jobs checkpoint and are re-queued for the next start.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "kernels/registry.h"
#include "server/auth.h"
#include "server/credentials.h"
#include "server/flag_spelling.h"
#include "server/job_store.h"
#include "server/launcher.h"
#include "server/metrics_hub.h"
#include "server/prometheus_metrics.h"
#include "server/scheduler.h"
#include "server/service.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address of the public API (host:port; port 0 picks a free one, printed at "
          "start). Loopback by default.");
ABSL_FLAG(std::string, data_dir, "./edbp-data",
          "Directory of the job store (edbp.sqlite), the jobs' working directories and "
          "the worker socket");
ABSL_FLAG(int, cpu_slots, 1, "Jobs run at once on a machine without GPUs");
ABSL_FLAG(std::string, train_program, "",
          "Path of edbp-train (default: next to this binary)");
ABSL_FLAG(
    int, grace_seconds, 30,
    "Seconds between SIGTERM and SIGKILL when a job is cancelled or the server stops");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token every call must carry (authorization: Bearer "
          "TOKEN), health checks excepted. At least 16 characters; the file must not be "
          "readable by others (chmod 600). Default: $EDBP_AUTH_TOKEN, else no token");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve the API over TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, client_ca, "",
          "PEM CA certificates: require client certificates signed by them (mTLS; needs "
          "--tls-cert and --tls-key)");
ABSL_FLAG(bool, insecure, false,
          "Allow a non-loopback --listen address without authentication (no token, no "
          "client certificates): anyone who can reach it can use the API");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics at http://ADDR/metrics (host:port; port 0 picks a "
          "free one, printed at start). Default: off");
ABSL_FLAG(
    std::string, health_listen, "",
    "Also serve grpc.health.v1 alone, in plaintext and without a token, on this "
    "host:port (for Kubernetes gRPC probes when the API uses TLS or mTLS). Default: "
    "off");
ABSL_FLAG(std::vector<std::string>, data_roots, {},
          "Comma-separated directories a job config's data_path must lie in (default: "
          "/usr/share/datasets and DATA_DIR/datasets)");

namespace {

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM/SIGINT are taken by sigwait below: block them before any thread exists so
  // every thread inherits the mask (the launcher unblocks them in job processes).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  edbp::server::ParseFlags(
      argc, argv,
      "the edbp training service.\n"
      "usage: edbp-server [--listen 127.0.0.1:50051] [--data-dir ./edbp-data] [flags]\n"
      "security: --auth-token-file FILE (or $EDBP_AUTH_TOKEN), --tls-cert/--tls-key, "
      "--client-ca (mTLS); a non-loopback --listen needs a token with TLS, --client-ca, "
      "or --insecure\n"
      "flags may be spelled --data-dir or --data_dir; SIGTERM/SIGINT shut down "
      "gracefully (running jobs checkpoint and resume at the next start)",
      "server/server_main.cc");
  // Logs go to stderr; stdout carries only the "listening on HOST:PORT" line (then
  // "health on ..." and "metrics on ..." when those listen).
  spdlog::set_default_logger(spdlog::stderr_color_mt("edbp-server"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

  // The public listener's security is settled before anything is created.
  std::string token;
  if (const std::string file = absl::GetFlag(FLAGS_auth_token_file); !file.empty()) {
    absl::StatusOr<std::string> read = edbp::server::ReadTokenFile(file);
    if (!read.ok()) return Fail(std::string(read.status().message()));
    token = *std::move(read);
  } else if (const char* env = std::getenv("EDBP_AUTH_TOKEN"); env != nullptr) {
    absl::StatusOr<std::string> checked =
        edbp::server::CheckToken(env, "$EDBP_AUTH_TOKEN");
    if (!checked.ok()) return Fail(std::string(checked.status().message()));
    token = *std::move(checked);
  }
  // Job processes inherit the environment: the token stays in the server.
  unsetenv("EDBP_AUTH_TOKEN");
  edbp::server::ListenSecurity listen_security;
  listen_security.listen = absl::GetFlag(FLAGS_listen);
  listen_security.token = token;
  listen_security.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  listen_security.tls_key = absl::GetFlag(FLAGS_tls_key);
  listen_security.client_ca = absl::GetFlag(FLAGS_client_ca);
  listen_security.insecure = absl::GetFlag(FLAGS_insecure);
  absl::StatusOr<edbp::server::ServerSecurity> security =
      edbp::server::MakeServerSecurity(listen_security);
  if (!security.ok()) return Fail(std::string(security.status().message()));

  namespace fs = std::filesystem;
  const fs::path data_dir = fs::absolute(absl::GetFlag(FLAGS_data_dir));
  std::error_code ec;
  fs::create_directories(data_dir / "jobs", ec);
  if (ec) return Fail(absl::StrCat(data_dir.string(), ": ", ec.message()));
  std::string train_program = absl::GetFlag(FLAGS_train_program);
  if (train_program.empty()) {
    train_program =
        (fs::read_symlink("/proc/self/exe").parent_path() / "edbp-train").string();
  }
  if (!fs::exists(train_program)) {
    return Fail(absl::StrCat("edbp-train not found at ", train_program,
                             " (give --train-program)"));
  }

  auto store = edbp::server::JobStore::Open((data_dir / "edbp.sqlite").string());
  if (!store.ok()) return Fail(std::string(store.status().message()));
  edbp::server::MetricsHub hub(store->get());
  edbp::server::Launcher launcher;
  edbp::server::SchedulerOptions options;
  options.data_dir = data_dir.string();
  options.train_program = train_program;
  const fs::path socket = data_dir / "worker.sock";
  fs::remove(socket, ec);
  options.worker_address = "unix:" + socket.string();
  options.grace = std::chrono::seconds(absl::GetFlag(FLAGS_grace_seconds));
  const int gpus = edbp::kernels::CudaDeviceCount();
  for (int g = 0; g < gpus; ++g) options.slots.push_back(absl::StrCat("cuda:", g));
  if (gpus == 0) {
    for (int c = 0; c < std::max(1, absl::GetFlag(FLAGS_cpu_slots)); ++c) {
      options.slots.push_back(absl::StrCat("cpu:", c));
    }
  }
  edbp::server::Scheduler scheduler(store->get(), &hub, &launcher, options);

  edbp::server::ServerMetrics metrics(store->get(), options.slots);
  edbp::server::ServiceOptions service_options;
  service_options.metrics = &metrics;
  service_options.data_roots = absl::GetFlag(FLAGS_data_roots);
  if (service_options.data_roots.empty()) {
    service_options.data_roots = {"/usr/share/datasets",
                                  (data_dir / "datasets").string()};
  }

  // The worker service listens only on the Unix socket, which only this user may open
  // (umask while it is created, then chmod): it needs no token.
  edbp::server::WorkerServiceImpl worker(&hub, &scheduler, &metrics);
  grpc::ServerBuilder worker_builder;
  worker_builder.AddListeningPort(options.worker_address,
                                  grpc::InsecureServerCredentials());
  worker_builder.RegisterService(&worker);
  const mode_t old_umask = umask(0077);
  std::unique_ptr<grpc::Server> worker_server = worker_builder.BuildAndStart();
  umask(old_umask);
  if (!worker_server)
    return Fail(absl::StrCat("cannot listen on ", options.worker_address));
  if (chmod(socket.c_str(), 0600) != 0) {
    return Fail(
        absl::StrCat("cannot chmod 600 ", socket.string(), ": ", std::strerror(errno)));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  edbp::server::TrainingServiceImpl service(store->get(), &hub, &scheduler,
                                            data_dir.string(), gpus > 0, service_options);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), security->credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", absl::GetFlag(FLAGS_listen)));
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string host = listen.substr(0, listen.rfind(':'));
  spdlog::info(
      "edbp-server listening on {}:{} ({}; data dir {}, slots {}, edbp-train {})", host,
      port, security->description, data_dir.string(), options.slots.size(),
      train_program);

  std::string ready_lines;  // "health on ...", "metrics on ..."
  // Health alone, in plaintext: probes that cannot speak TLS or present a certificate.
  std::unique_ptr<grpc::Server> health_server;
  if (const std::string health = absl::GetFlag(FLAGS_health_listen); !health.empty()) {
    grpc::ServerBuilder health_builder;
    int health_port = 0;
    health_builder.AddListeningPort(health, grpc::InsecureServerCredentials(),
                                    &health_port);
    health_server = health_builder.BuildAndStart();
    if (!health_server || health_port == 0) {
      return Fail(absl::StrCat("--health-listen ", health, ": cannot listen"));
    }
    ready_lines += absl::StrCat("health on ", health.substr(0, health.rfind(':')), ":",
                                health_port, "\n");
  }
  if (const std::string address = absl::GetFlag(FLAGS_metrics_listen); !address.empty()) {
    absl::StatusOr<int> metrics_port = metrics.Listen(address);
    if (!metrics_port.ok()) return Fail(std::string(metrics_port.status().message()));
    ready_lines += absl::StrCat("metrics on ", address.substr(0, address.rfind(':')), ":",
                                *metrics_port, "\n");
  }
  // Printed once everything listens: a reader of "listening on" may connect at once.
  std::printf("listening on %s:%d\n%s", host.c_str(), port, ready_lines.c_str());
  std::fflush(stdout);

  const absl::Status recovered = scheduler.Recover();
  if (!recovered.ok()) return Fail(std::string(recovered.message()));

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: draining (running jobs checkpoint and are re-queued)", sig);
  if (health_server) health_server->GetHealthCheckService()->SetServingStatus(false);
  server->GetHealthCheckService()->SetServingStatus(false);
  scheduler.Drain();
  service.Shutdown();
  hub.WakeAll();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  worker_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (health_server) health_server->Shutdown(std::chrono::system_clock::now());
  spdlog::info("stopped");
  return 0;
}

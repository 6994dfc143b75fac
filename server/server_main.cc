// edbp-server: the training service. Public gRPC API on --listen (TLS, mTLS and a
// bearer token per server/credentials.h), job processes (edbp-train) reporting over a
// Unix socket in the data dir (mode 0600, no token) and, with --worker-listen, over TCP
// with a per-run token; jobs run locally or on Slurm (--executor), SQLite store in the
// data dir,
// optional /metrics and a plaintext health-only port. SIGTERM/SIGINT drain: running
// jobs checkpoint and are re-queued for the next start.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "kernels/registry.h"
#include "server/auth.h"
#include "server/credentials.h"
#include "server/data_dir.h"
#include "server/data_dir_lock.h"
#include "server/job_store.h"
#include "server/launcher.h"
#include "server/local_executor.h"
#include "server/metrics_hub.h"
#include "server/prometheus_metrics.h"
#include "server/scheduler.h"
#include "server/server_args.h"
#include "server/service.h"
#include "server/slurm_executor.h"
#include "server/store_health.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;

// The public listener's security, settled before anything is created: the token from
// --auth-token-file or $EDBP_AUTH_TOKEN (then removed from the environment, which job
// processes inherit), TLS and mTLS.
absl::StatusOr<ServerSecurity> SettleSecurity(const ServerArgs& args) {
  std::string token;
  if (!args.auth_token_file.empty()) {
    EDBP_ASSIGN_OR_RETURN(token, ReadTokenFile(args.auth_token_file));
  } else if (const char* env = std::getenv("EDBP_AUTH_TOKEN"); env != nullptr) {
    EDBP_ASSIGN_OR_RETURN(token, CheckToken(env, "$EDBP_AUTH_TOKEN"));
  }
  unsetenv("EDBP_AUTH_TOKEN");
  ListenSecurity listen;
  listen.listen = args.listen;
  listen.token = token;
  listen.tls_cert = args.tls_cert;
  listen.tls_key = args.tls_key;
  listen.client_ca = args.client_ca;
  listen.insecure = args.insecure;
  return MakeServerSecurity(listen);
}

// The scheduler's options: the data dir (created), edbp-train (found), the worker
// socket, and one slot per GPU, else --cpu-slots CPU slots.
absl::StatusOr<SchedulerOptions> MakeSchedulerOptions(const ServerArgs& args,
                                                      const fs::path& data_dir,
                                                      int gpus) {
  std::error_code ec;
  fs::create_directories(JobsDirectory(data_dir), ec);
  if (ec) return absl::InternalError(absl::StrCat(data_dir.string(), ": ", ec.message()));
  SchedulerOptions options;
  options.data_dir = data_dir.string();
  options.train_program = args.train_program;
  if (options.train_program.empty()) {
    options.train_program =
        (fs::read_symlink("/proc/self/exe").parent_path() / "edbp-train").string();
  }
  if (!fs::exists(options.train_program)) {
    return absl::NotFoundError(absl::StrCat(
        "edbp-train not found at ", options.train_program, " (give --train-program)"));
  }
  const fs::path socket = WorkerSocketPath(data_dir);
  fs::remove(socket, ec);
  options.worker_address = WorkerSocketAddress(data_dir);
  options.grace = std::chrono::seconds(args.grace_seconds);
  options.checkpoint_every = args.checkpoint_every;  // CheckServerArgs checked them
  options.keep_jobs = args.keep_jobs;
  options.keep_age = std::chrono::seconds(static_cast<int64_t>(args.keep_days * 86400));
  for (int g = 0; g < gpus; ++g) options.slots.push_back(absl::StrCat("cuda:", g));
  if (gpus == 0) {
    for (int c = 0; c < std::max(1, args.cpu_slots); ++c) {
      options.slots.push_back(absl::StrCat("cpu:", c));
    }
  }
  return options;
}

// The worker service listens on the Unix socket, which only this user may open
// (umask while it is created, then chmod): there it needs no token. With
// --worker-listen it also listens on TCP (TLS with --tls-cert), where every report
// must carry its run's token (WorkerServiceImpl). `*tcp_port`: the TCP port bound.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartWorkerServer(const ServerArgs& args,
                                                                const fs::path& data_dir,
                                                                WorkerServiceImpl* worker,
                                                                int* tcp_port) {
  const fs::path socket = WorkerSocketPath(data_dir);
  const std::string address = WorkerSocketAddress(data_dir);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  if (!args.worker_listen.empty()) {
    ListenSecurity tcp;
    tcp.listen = args.worker_listen;
    tcp.tls_cert = args.tls_cert;
    tcp.tls_key = args.tls_key;
    tcp.insecure = true;  // each report is checked against its job's token
    EDBP_ASSIGN_OR_RETURN(const ServerSecurity security, MakeServerSecurity(tcp));
    if (args.tls_cert.empty() && !IsLoopbackAddress(args.worker_listen)) {
      spdlog::warn(
          "--worker-listen {} without --tls-cert: job tokens cross the network "
          "in clear",
          args.worker_listen);
    }
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(args.worker_listen, security.credentials, tcp_port);
  }
  builder.RegisterService(worker);
  const mode_t old_umask = umask(0077);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  umask(old_umask);
  if (!server) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address,
                     args.worker_listen.empty()
                         ? ""
                         : absl::StrCat(" or on --worker-listen ", args.worker_listen)));
  }
  if (!args.worker_listen.empty() && *tcp_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("--worker-listen ", args.worker_listen, ": cannot listen"));
  }
  if (chmod(socket.c_str(), 0600) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot chmod 600 ", socket.string(), ": ", std::strerror(errno)));
  }
  return server;
}

// The address jobs on other machines report to: --worker-listen with the bound port,
// and this machine's name for a wildcard host.
std::string AdvertisedWorkerAddress(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host == "0.0.0.0" || host == "[::]" || host.empty()) {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) == 0) host = name;
  }
  return absl::StrCat(host, ":", port);
}

// The executor of --executor (and its flags' checks).
absl::StatusOr<std::unique_ptr<Executor>> MakeExecutor(const ServerArgs& args,
                                                       const fs::path& data_dir,
                                                       Launcher* launcher) {
  // CheckServerArgs checked --executor and the Slurm flags.
  if (args.executor == "local") return std::make_unique<LocalExecutor>(launcher);
  return std::make_unique<SlurmExecutor>(SlurmOptionsOf(args, data_dir.string()));
}

// "host:port" with the port that was bound, for the ready lines.
std::string BoundAddress(const std::string& requested, int port) {
  return absl::StrCat(requested.substr(0, requested.rfind(':')), ":", port);
}

// The running server: everything main() builds, in construction order (destroyed in
// reverse). Built by Start(); Run() serves until SIGTERM/SIGINT and drains.
class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerArgs& args);
  // Recovers the jobs of the last run, waits for SIGTERM/SIGINT (blocked in every thread
  // by main), then drains: running jobs checkpoint and are re-queued for the next start.
  absl::Status Run(const sigset_t& signals);

 private:
  explicit Server(DataDirLock lock) : lock_(std::move(lock)) {}

  DataDirLock lock_;  // first: held until everything below is gone
  StoreHealth store_health_;
  std::atomic<bool> draining_{false};  // health stays NOT_SERVING from the drain on
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<MetricsHub> hub_;
  Launcher launcher_;
  SchedulerOptions options_;
  std::unique_ptr<Scheduler> scheduler_;
  // After the scheduler: destroyed first, so the Slurm executor's thread, which calls
  // into the scheduler, has stopped before the scheduler goes.
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<WorkerServiceImpl> worker_;
  std::unique_ptr<grpc::Server> worker_server_;
  std::unique_ptr<TrainingServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerArgs& args) {
  EDBP_ASSIGN_OR_RETURN(const ServerSecurity security, SettleSecurity(args));
  const fs::path data_dir = fs::absolute(args.data_dir);
  // Before anything in the data dir is touched (the worker socket is replaced below):
  // a second server on it stops here, naming the first.
  EDBP_ASSIGN_OR_RETURN(DataDirLock lock, DataDirLock::Acquire(data_dir));
  // A data dir made by an older version (or by hand) may be open to others: closed
  // here, its contents are private whatever their own modes.
  if (chmod(data_dir.c_str(), 0700) != 0) {
    spdlog::warn("cannot chmod 700 {}: {} (its files may be readable by others)",
                 data_dir.string(), std::strerror(errno));
  }
  const int gpus = kernels::CudaDeviceCount();
  auto s = std::unique_ptr<Server>(new Server(std::move(lock)));
  EDBP_ASSIGN_OR_RETURN(s->options_, MakeSchedulerOptions(args, data_dir, gpus));
  EDBP_ASSIGN_OR_RETURN(s->executor_, MakeExecutor(args, data_dir, &s->launcher_));
  const bool slurm = args.executor == "slurm";
  EDBP_ASSIGN_OR_RETURN(s->store_, JobStore::Open(StorePath(data_dir).string()));
  s->hub_ = std::make_unique<MetricsHub>(s->store_.get(),
                                         static_cast<size_t>(args.event_cache_mib) << 20);
  s->options_.store_health = &s->store_health_;
  s->metrics_ = std::make_unique<ServerMetrics>(s->store_.get(), s->options_.slots);
  // The worker service listens before the scheduler exists (a job of the Slurm
  // executor reports to the port it bound); until Attach it answers UNAVAILABLE.
  s->worker_ = std::make_unique<WorkerServiceImpl>(s->hub_.get(), nullptr,
                                                   s->metrics_.get(), s->store_.get());
  int worker_port = 0;
  EDBP_ASSIGN_OR_RETURN(
      s->worker_server_,
      StartWorkerServer(args, data_dir, s->worker_.get(), &worker_port));
  std::string ready_lines;  // "workers report to ...", "health on ...", "metrics on ..."
  if (!args.worker_listen.empty()) {
    const std::string advertised =
        AdvertisedWorkerAddress(args.worker_listen, worker_port);
    ready_lines += absl::StrCat("workers report to ", advertised, "\n");
    // Local jobs keep the Unix socket; the cluster's report over TCP.
    if (slurm) s->options_.worker_address = advertised;
    if (!args.worker_ca.empty() && access(args.worker_ca.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("--worker-ca ", args.worker_ca,
                                              ": cannot read it (", std::strerror(errno),
                                              ")"));
    }
    if (!args.worker_ca.empty() || !args.tls_cert.empty()) {
      s->options_.worker_ca =
          fs::absolute(args.worker_ca.empty() ? args.tls_cert : args.worker_ca).string();
    }
  }
  s->scheduler_ = std::make_unique<Scheduler>(s->store_.get(), s->hub_.get(),
                                              s->executor_.get(), s->options_);
  s->worker_->Attach(s->scheduler_.get());
  ServiceOptions service_options;
  service_options.metrics = s->metrics_.get();
  service_options.data_roots = args.data_roots;
  service_options.max_job_bytes =
      args.max_job_memory_gib > 0 ? args.max_job_memory_gib * 1024.0 * 1024.0 * 1024.0
                                  : 0.5 * static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                                        static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (service_options.data_roots.empty()) {
    service_options.data_roots = {"/usr/share/datasets",
                                  DataSetsDirectory(data_dir).string()};
  }
  service_options.capacity.executor = slurm ? ExecutorKind::kSlurm : ExecutorKind::kLocal;
  service_options.capacity.has_gpus = gpus > 0;
  service_options.capacity.slots = static_cast<int>(s->options_.slots.size());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  s->service_ = std::make_unique<TrainingServiceImpl>(
      s->store_.get(), s->hub_.get(), s->scheduler_.get(), data_dir.string(), gpus > 0,
      service_options);
  s->worker_->AttachSweeps(s->service_->sweeps());
  // Epochs a trial's process spooled (the server was unreachable) are judged by its
  // sweep's early-stopping policy when they are stored, as live reports are.
  s->scheduler_->SetSpooledEpochListener(
      [sweeps = s->service_->sweeps()](const std::string& job_id,
                                       const v1::EpochMetrics& metrics) {
        sweeps->OnEpoch(job_id, metrics);
      });
  grpc::ServerBuilder builder;
  int port = 0;
  // The port is ours alone: with SO_REUSEPORT (gRPC's default) a second server would
  // bind it too and take half of the clients.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(args.listen, security.credentials, &port);
  builder.RegisterService(s->service_.get());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", args.listen,
        " (another process has the port, or the address is not this machine's)"));
  }
  const std::string listening = BoundAddress(args.listen, port);
  spdlog::info("edbp-server listening on {} ({}; data dir {}, slots {}, edbp-train {})",
               listening, security.description, data_dir.string(),
               s->options_.slots.size(), s->options_.train_program);

  // Health alone, in plaintext: probes that cannot speak TLS or present a certificate.
  if (!args.health_listen.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    int health_port = 0;
    health_builder.AddListeningPort(args.health_listen, grpc::InsecureServerCredentials(),
                                    &health_port);
    s->health_server_ = health_builder.BuildAndStart();
    if (!s->health_server_ || health_port == 0) {
      return absl::UnavailableError(
          absl::StrCat("--health-listen ", args.health_listen, ": cannot listen"));
    }
    ready_lines +=
        absl::StrCat("health on ", BoundAddress(args.health_listen, health_port), "\n");
  }
  if (!args.metrics_listen.empty()) {
    EDBP_ASSIGN_OR_RETURN(const int metrics_port,
                          s->metrics_->Listen(args.metrics_listen));
    ready_lines += absl::StrCat("metrics on ",
                                BoundAddress(args.metrics_listen, metrics_port), "\n");
  }
  // A store that cannot write: NOT_SERVING (take no new work here) and /metrics say so.
  Server* server = s.get();
  s->store_health_.AddListener([server](bool healthy, const std::string& error) {
    if (healthy) {
      spdlog::info("the job store writes again");
    } else {
      spdlog::error("the job store cannot write: {}", error);
    }
    server->metrics_->OnStoreHealth(healthy, server->store_health_.failures());
    if (server->draining_.load()) return;
    server->server_->GetHealthCheckService()->SetServingStatus(healthy);
    if (server->health_server_) {
      server->health_server_->GetHealthCheckService()->SetServingStatus(healthy);
    }
  });
  // Printed once everything listens: a reader of "listening on" may connect at once.
  std::printf("listening on %s\n%s", listening.c_str(), ready_lines.c_str());
  std::fflush(stdout);
  return s;
}

absl::Status Server::Run(const sigset_t& signals) {
  EDBP_RETURN_IF_ERROR(scheduler_->Recover());
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: draining (running jobs checkpoint and are re-queued)", sig);
  draining_.store(true);
  if (health_server_) health_server_->GetHealthCheckService()->SetServingStatus(false);
  server_->GetHealthCheckService()->SetServingStatus(false);
  scheduler_->Drain();
  service_->Shutdown();  // WatchJob streams end with UNAVAILABLE
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  worker_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  if (health_server_) health_server_->Shutdown(std::chrono::system_clock::now());
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace edbp::server

int main(int argc, char** argv) {
  // SIGTERM/SIGINT are taken by sigwait in Server::Run: block them before any thread
  // exists so every thread inherits the mask (the launcher unblocks them in job
  // processes).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Everything the server and its jobs create (the store, configs, logs, checkpoints,
  // frame caches) is private to the server's user: configs and logs may name paths and
  // data, and a token protects the API, not the files.
  umask(0077);
  const absl::StatusOr<edbp::server::ServerArgs> parsed =
      edbp::server::ParseServerArgs(argc, argv);
  if (!parsed.ok()) {
    // A usage error (server_args.h): exit 2, before anything is touched.
    std::fprintf(stderr, "edbp-server: %s\n",
                 std::string(parsed.status().message()).c_str());
    return 2;
  }
  const edbp::server::ServerArgs& args = *parsed;
  // Logs go to stderr; stdout carries only the "listening on HOST:PORT" line (then
  // "health on ..." and "metrics on ..." when those listen).
  spdlog::set_default_logger(spdlog::stderr_color_mt("edbp-server"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

  absl::StatusOr<std::unique_ptr<edbp::server::Server>> server =
      edbp::server::Server::Start(args);
  absl::Status status = server.ok() ? (*server)->Run(signals) : server.status();
  if (!status.ok()) {
    spdlog::error("{}", std::string(status.message()));
    return 1;
  }
  return 0;
}

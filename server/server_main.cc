// edbp-server: the training service. Public gRPC API on --listen, job processes
// (edbp-train) reporting over a Unix socket in the data dir, SQLite store in the data
// dir. SIGTERM/SIGINT drain: running jobs checkpoint and are re-queued for the next
// start.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

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
#include "server/flag_spelling.h"
#include "server/job_store.h"
#include "server/launcher.h"
#include "server/metrics_hub.h"
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
ABSL_FLAG(int, grace_seconds, 30,
          "Seconds between SIGTERM and SIGKILL when a job is cancelled or the server stops");

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
      "flags may be spelled --data-dir or --data_dir; SIGTERM/SIGINT shut down "
      "gracefully (running jobs checkpoint and resume at the next start)",
      "server/server_main.cc");
  // Logs go to stderr; stdout carries only the "listening on HOST:PORT" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("edbp-server"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

  namespace fs = std::filesystem;
  const fs::path data_dir = fs::absolute(absl::GetFlag(FLAGS_data_dir));
  std::error_code ec;
  fs::create_directories(data_dir / "jobs", ec);
  if (ec) return Fail(absl::StrCat(data_dir.string(), ": ", ec.message()));
  std::string train_program = absl::GetFlag(FLAGS_train_program);
  if (train_program.empty()) {
    train_program = (fs::read_symlink("/proc/self/exe").parent_path() / "edbp-train").string();
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

  // The worker service listens only on the Unix socket.
  edbp::server::WorkerServiceImpl worker(&hub, &scheduler);
  grpc::ServerBuilder worker_builder;
  worker_builder.AddListeningPort(options.worker_address, grpc::InsecureServerCredentials());
  worker_builder.RegisterService(&worker);
  std::unique_ptr<grpc::Server> worker_server = worker_builder.BuildAndStart();
  if (!worker_server) return Fail(absl::StrCat("cannot listen on ", options.worker_address));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  edbp::server::TrainingServiceImpl service(store->get(), &hub, &scheduler, data_dir.string(),
                                            gpus > 0);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", absl::GetFlag(FLAGS_listen)));
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string host = listen.substr(0, listen.rfind(':'));
  spdlog::info("edbp-server listening on {}:{} (data dir {}, slots {}, edbp-train {})", host,
               port, data_dir.string(), options.slots.size(), train_program);
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);

  const absl::Status recovered = scheduler.Recover();
  if (!recovered.ok()) return Fail(std::string(recovered.message()));

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: draining (running jobs checkpoint and are re-queued)", sig);
  scheduler.Drain();
  service.Shutdown();
  hub.WakeAll();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  worker_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  spdlog::info("stopped");
  return 0;
}

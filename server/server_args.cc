#include "server/server_args.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/flag_spelling.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/sparse.h"
#include "server/slurm_executor.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address of the public API (host:port; port 0 picks a free one, printed at "
          "start). Loopback by default.");
ABSL_FLAG(std::string, data_dir, "./edbp-data",
          "Directory of the job store (edbp.sqlite), the jobs' working directories and "
          "the worker socket; one server per directory (edbp.lock)");
ABSL_FLAG(int, cpu_slots, 1, "Jobs run at once on a machine without GPUs");
ABSL_FLAG(std::string, train_program, "",
          "Path of edbp-train (default: next to this binary)");
ABSL_FLAG(
    int, grace_seconds, 30,
    "Seconds between SIGTERM and SIGKILL when a job is cancelled or the server stops");
ABSL_FLAG(int64_t, checkpoint_every, 200,
          "Training batches between the checkpoints a job resumes from after a crash "
          "(edbp-train --checkpoint-every; a kill -9 loses at most this many batches; "
          "0: only at epoch ends)");
ABSL_FLAG(int64_t, keep_jobs, 0,
          "Retention: keep at most N ended jobs (the newest by end time); older ones "
          "are deleted with their files after each job ends and at start-up (0: keep "
          "all). The ended trials of a sweep that is still running are kept, and not "
          "counted, until the sweep has ended");
ABSL_FLAG(double, keep_days, 0,
          "Retention: delete ended jobs, with their files, that ended more than D days "
          "ago (0: keep all); trials of a running sweep wait for the sweep's end");
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
          "Comma-separated directories a job config's data_path and cache_path must lie "
          "in (default: /usr/share/datasets and DATA_DIR/datasets)");

ABSL_FLAG(double, max_job_memory_gib, 0,
          "A job whose tensors are estimated to need more than this many GiB is refused "
          "at submit (0: half of this machine's memory)");

ABSL_FLAG(int64_t, event_cache_mib, 64,
          "MiB of recent job events kept in memory for WatchJob, across all jobs; older "
          "events are read back from the job store (0: none kept)");

ABSL_FLAG(std::string, executor, "local",
          "Where jobs run: local (edbp-train, or mpirun -np W for W workers, on this "
          "machine's slots) or slurm (one sbatch job per run, srun --mpi=pmix; needs "
          "--worker-listen and a --data-dir on storage every node shares)");
ABSL_FLAG(std::string, worker_listen, "",
          "Also serve the jobs' reports (WorkerService) on this TCP host:port, for jobs "
          "on other machines (port 0 picks one); each report must carry its run's token. "
          "TLS when --tls-cert is given. Default: only the Unix socket in the data dir");
ABSL_FLAG(std::string, worker_ca, "",
          "PEM CA file jobs verify --worker-listen's TLS certificate with (its path is "
          "passed in their environment, so it must be readable at that path on the "
          "nodes). Default: --tls-cert itself (a self-signed certificate)");
ABSL_FLAG(std::string, slurm_partition, "", "sbatch --partition of every job (slurm)");
ABSL_FLAG(std::string, slurm_account, "", "sbatch --account of every job (slurm)");
ABSL_FLAG(std::string, slurm_time, "",
          "sbatch --time of every job, e.g. 30, 4:00:00, 2-00:00:00 (slurm); a job "
          "Slurm stops at this limit ends FAILED with Slurm's reason");
ABSL_FLAG(std::string, slurm_extra, "",
          "More sbatch options for every job, separated by spaces, each --name or "
          "--name=value (e.g. \"--qos=normal --constraint=a100\"); options edbp-server "
          "sets itself are refused");
ABSL_FLAG(int, slurm_poll_ms, 1000,
          "Milliseconds between the squeue calls that follow the jobs (slurm; 100 to "
          "60000)");

namespace edbp::server {

absl::Status CheckServerArgs(const ServerArgs& args) {
  // The CPU kernels' variables: jobs inherit them, and edbp-train (like the server's
  // own check of an init_from checkpoint) aborts on a value it does not know.
  if (const char* isa = std::getenv("EDBP_CPU_ISA"); isa != nullptr && *isa != '\0') {
    kernels::cpu::CpuIsa parsed;
    if (!kernels::cpu::ParseCpuIsa(isa, &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EDBP_CPU_ISA=", isa, ": expected portable, avx2 or avx512 (or unset)"));
    }
  }
  if (const char* mode = std::getenv("EDBP_SPARSE"); mode != nullptr && *mode != '\0') {
    kernels::cpu::SparseMode parsed;
    if (!kernels::cpu::ParseSparseMode(mode, &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EDBP_SPARSE=", mode, ": expected auto, off, always or blas (or unset)"));
    }
  }
  if (args.executor != "local" && args.executor != "slurm") {
    return absl::InvalidArgumentError(
        absl::StrCat("--executor: expected local or slurm, got \"", args.executor, "\""));
  }
  if (args.executor == "slurm") {
    if (args.worker_listen.empty()) {
      return absl::InvalidArgumentError(
          "--executor slurm needs --worker-listen HOST:PORT (jobs on the cluster's nodes "
          "report there)");
    }
    if (args.slurm_poll_ms < 100 || args.slurm_poll_ms > 60000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--slurm-poll-ms: expected 100 to 60000, got ", args.slurm_poll_ms));
    }
    if (absl::Status s = CheckSlurmOptions(SlurmOptionsOf(args, "")); !s.ok()) return s;
  }
  if (args.grace_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grace-seconds: expected 0 or more, got ", args.grace_seconds));
  }
  if (args.checkpoint_every < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--checkpoint-every: expected 0 or more batches, got ", args.checkpoint_every));
  }
  if (args.keep_jobs < 0 || !(args.keep_days >= 0) || args.keep_days > 1e6) {
    return absl::InvalidArgumentError(
        absl::StrCat("--keep-jobs and --keep-days: expected 0 (keep all) or more, got ",
                     args.keep_jobs, " and ", args.keep_days));
  }
  if (!(args.max_job_memory_gib >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-job-memory-gib: expected 0 (half the machine) or more, got ",
                     args.max_job_memory_gib));
  }
  if (args.event_cache_mib < 0 || args.event_cache_mib > kMaxEventCacheMib) {
    return absl::InvalidArgumentError(absl::StrCat("--event-cache-mib: expected 0 to ",
                                                   kMaxEventCacheMib, " MiB, got ",
                                                   args.event_cache_mib));
  }
  return absl::OkStatus();
}

SlurmOptions SlurmOptionsOf(const ServerArgs& args, const std::string& data_dir) {
  SlurmOptions options;
  options.data_dir = data_dir;
  options.partition = args.slurm_partition;
  options.account = args.slurm_account;
  options.time = args.slurm_time;
  options.extra =
      absl::StrSplit(args.slurm_extra, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  options.poll = std::chrono::milliseconds(args.slurm_poll_ms);
  return options;
}

absl::StatusOr<ServerArgs> ParseServerArgs(int argc, char** argv) {
  const absl::StatusOr<std::vector<std::string>> positional = ParseFlags(
      argc, argv,
      "the edbp training service.\n"
      "usage: edbp-server [--listen 127.0.0.1:50051] [--data-dir ./edbp-data] [flags]\n"
      "security: --auth-token-file FILE (or $EDBP_AUTH_TOKEN), --tls-cert/--tls-key, "
      "--client-ca (mTLS); a non-loopback --listen needs a token with TLS, --client-ca, "
      "or --insecure\n"
      "executors: --executor local (default) or --executor slurm --worker-listen "
      "HOST:PORT [--slurm-partition P] [--slurm-time T] [--slurm-extra \"...\"]\n"
      "flags may be spelled --data-dir or --data_dir; SIGTERM/SIGINT shut down "
      "gracefully (running jobs checkpoint and resume at the next start)\n"
      "exit status: 0 stopped by SIGTERM/SIGINT; 1 cannot start (the data dir is locked "
      "by another server, a port is taken, a file cannot be read, ...) or failed; 2 "
      "usage: an unknown flag (with the closest one), a missing or malformed value, a "
      "value out of range, an argument that is not a flag",
      "server/server_args.cc");
  if (!positional.ok()) return positional.status();
  if (positional->size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", (*positional)[1],
                     "': edbp-server takes flags only (--help lists them)"));
  }
  ServerArgs args;
  args.listen = absl::GetFlag(FLAGS_listen);
  args.data_dir = absl::GetFlag(FLAGS_data_dir);
  args.cpu_slots = absl::GetFlag(FLAGS_cpu_slots);
  args.train_program = absl::GetFlag(FLAGS_train_program);
  args.grace_seconds = absl::GetFlag(FLAGS_grace_seconds);
  args.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  args.keep_jobs = absl::GetFlag(FLAGS_keep_jobs);
  args.keep_days = absl::GetFlag(FLAGS_keep_days);
  args.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  args.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  args.tls_key = absl::GetFlag(FLAGS_tls_key);
  args.client_ca = absl::GetFlag(FLAGS_client_ca);
  args.insecure = absl::GetFlag(FLAGS_insecure);
  args.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  args.health_listen = absl::GetFlag(FLAGS_health_listen);
  args.data_roots = absl::GetFlag(FLAGS_data_roots);
  args.max_job_memory_gib = absl::GetFlag(FLAGS_max_job_memory_gib);
  args.event_cache_mib = absl::GetFlag(FLAGS_event_cache_mib);
  args.executor = absl::GetFlag(FLAGS_executor);
  args.worker_listen = absl::GetFlag(FLAGS_worker_listen);
  args.worker_ca = absl::GetFlag(FLAGS_worker_ca);
  args.slurm_partition = absl::GetFlag(FLAGS_slurm_partition);
  args.slurm_account = absl::GetFlag(FLAGS_slurm_account);
  args.slurm_time = absl::GetFlag(FLAGS_slurm_time);
  args.slurm_extra = absl::GetFlag(FLAGS_slurm_extra);
  args.slurm_poll_ms = absl::GetFlag(FLAGS_slurm_poll_ms);
  if (absl::Status s = CheckServerArgs(args); !s.ok()) return s;
  return args;
}

}  // namespace edbp::server

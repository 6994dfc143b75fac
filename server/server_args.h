// edbp-server's command line: every flag, parsed once.
#ifndef EDBP_SERVER_SERVER_ARGS_H_
#define EDBP_SERVER_SERVER_ARGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/slurm_executor.h"

namespace edbp::server {

// The flags as given; defaults are those of `edbp-server --help`.
struct ServerArgs {
  std::string listen;         // --listen: the public API's host:port
  std::string data_dir;       // --data-dir, as given (made absolute by the server)
  int cpu_slots = 1;          // --cpu-slots: jobs at once without GPUs
  std::string train_program;  // --train-program; empty: edbp-train next to this binary
  int grace_seconds = 30;     // --grace-seconds: SIGTERM to SIGKILL of a job
  int64_t checkpoint_every = 200;  // --checkpoint-every: batches between resume points
  int64_t keep_jobs = 0;           // --keep-jobs: ended jobs kept (0: all)
  double keep_days = 0;            // --keep-days: age of ended jobs kept (0: any)
  std::string auth_token_file;  // --auth-token-file; empty: $EDBP_AUTH_TOKEN, else none
  std::string tls_cert, tls_key, client_ca;
  bool insecure = false;
  std::string metrics_listen;  // --metrics-listen; empty: no /metrics
  std::string health_listen;   // --health-listen; empty: no plaintext health port
  std::vector<std::string> data_roots;  // --data-roots; empty: the defaults
  double max_job_memory_gib = 0;  // --max-job-memory-gib; 0: half the machine's memory
  int64_t event_cache_mib = 64;   // --event-cache-mib: the events kept in memory
  // Issue 18: where jobs run and how they report back.
  std::string executor = "local";  // --executor: local | slurm
  std::string worker_listen;       // --worker-listen: TCP host:port of WorkerService
  std::string worker_ca;           // --worker-ca: the CA jobs verify it with
  std::string slurm_partition, slurm_account, slurm_time;
  std::string slurm_extra;   // --slurm-extra: sbatch options, whitespace-separated
  int slurm_poll_ms = 1000;  // --slurm-poll-ms: squeue interval
};

// The most --event-cache-mib allows (1 TiB).
inline constexpr int64_t kMaxEventCacheMib = int64_t{1} << 20;

// Parses argv with both flag spellings (--data-dir, --data_dir), then CheckServerArgs.
// Exits the process (0) for --help. Usage errors are INVALID_ARGUMENT with a one-line
// message, on which edbp-server exits 2: an unknown flag (with the closest of the
// server's own, base/flag_spelling.h), a missing or malformed value, an argument that
// is not a flag, or what CheckServerArgs refuses.
absl::StatusOr<ServerArgs> ParseServerArgs(int argc, char** argv);

// The flags' values that no start can succeed with, each INVALID_ARGUMENT naming its
// flag: --executor other than local/slurm; slurm without --worker-listen, with
// --slurm-poll-ms outside 100..60000 or Slurm options CheckSlurmOptions refuses; negative
// --grace-seconds, --checkpoint-every, --keep-jobs, --keep-days, --max-job-memory-gib;
// --event-cache-mib outside 0..kMaxEventCacheMib. What needs the machine (ports, files,
// the data dir's lock) is Server::Start's, a failure to start (exit 1).
absl::Status CheckServerArgs(const ServerArgs& args);

// The Slurm executor's options from the flags, with `data_dir`.
SlurmOptions SlurmOptionsOf(const ServerArgs& args, const std::string& data_dir);

}  // namespace edbp::server

#endif  // EDBP_SERVER_SERVER_ARGS_H_

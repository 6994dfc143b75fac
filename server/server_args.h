// edbp-server's command line: every flag, parsed once.
#ifndef EDBP_SERVER_SERVER_ARGS_H_
#define EDBP_SERVER_SERVER_ARGS_H_

#include <cstdint>
#include <string>
#include <vector>

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

// Parses argv with both flag spellings (--data-dir, --data_dir). Exits the process for
// --help and for unknown or malformed flags, as Abseil does.
ServerArgs ParseServerArgs(int argc, char** argv);

}  // namespace edbp::server

#endif  // EDBP_SERVER_SERVER_ARGS_H_

// The command line of edbp-client: its commands, flags, help text and exit codes.
//
// Global flags (--server, --output, --timeout, the credential flags, --help) may stand
// before or after the command; a command's own flags are accepted only with that command.
// "--" ends the flags. Parsing touches no global state, so it can run many times in one
// process.
#ifndef EDBP_CLIENT_CLI_ARGS_H_
#define EDBP_CLIENT_CLI_ARGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "edbp/v1/job.pb.h"

namespace edbp::cli {

// The process exit status of every command (listed in the --help text).
enum class ExitCode : int {
  kOk = 0,               // success; watch / submit --follow: the job SUCCEEDED
  kFailed = 1,           // the job FAILED or was CANCELLED, or any other error
  kUsage = 2,            // bad command line or unreadable CONFIG
  kUnreachable = 3,      // edbp-server could not be reached
  kNotFound = 4,         // unknown job, or no checkpoint (yet)
  kInvalidArgument = 5,  // the server rejected a request, e.g. an invalid config
  kUnauthenticated = 6,  // no token, a wrong token, or a refused client certificate
};

enum class Command {
  kHelp,      // print the help text
  kSubmit,    // CreateJob (then WatchJob with --follow)
  kList,      // ListJobs, every page
  kGet,       // GetJob
  kCancel,    // CancelJob
  kWatch,     // WatchJob until the job ends
  kLogs,      // ReadJobLog: the job's train.log (--events: its LogLine events)
  kDownload,  // DownloadCheckpoint into a file
  kHealth,    // grpc.health.v1 Check: exit 0 when the server is SERVING
  kDelete,    // DeleteJob
  kResume,    // ResumeJob
  kMetrics,   // every epoch record of a job as CSV or JSON lines
  kSweep,     // CreateSweep
  kSweeps,    // ListSweeps, every page
};

enum class MetricsFormat {
  kCsv,    // a header row, then one row per epoch (per-layer columns prefixed)
  kJsonl,  // one JSON object per epoch
};

enum class OutputFormat {
  kText,  // tables and lines for people
  kJson,  // one JSON document per result, one JSON object per line for event streams
};

// Everything the command line says. Fields of other commands keep their defaults.
struct Options {
  Command command = Command::kHelp;
  // kHelp: "" for the whole text, else the command whose help COMMAND --help or
  // help COMMAND asks for (dashboard and gradient-flow included).
  std::string help_topic;
  std::string server;  // host:port
  OutputFormat output = OutputFormat::kText;
  absl::Duration timeout = absl::Seconds(10);  // deadline of each unary request

  // Credentials (client/cli/channel.h): --token-file (else $EDBP_TOKEN), --tls,
  // --ca-cert, --cert, --key.
  std::string token_file;
  bool tls = false;
  std::string ca_cert;
  std::string cert;
  std::string key;

  // get, cancel, watch, logs, download, delete, resume, metrics: the resource name
  // "jobs/{id}"; or, when the argument is not a job id, "" and job_display_name holds
  // it (the client then looks the job up by its display name, which must be unique).
  std::string job;
  std::string job_display_name;

  // submit
  std::string config_path;
  std::string display_name;  // default: the stem of config_path
  int32_t priority = 0;
  bool follow = false;
  bool validate_only = false;
  std::string request_id;        // default: a fresh random id
  int32_t workers = 0;           // 0: the server's default (1)
  int32_t nodes = 0;             // 0: the server's default (1)
  int32_t gpus_per_worker = -1;  // -1: the server's default (unset in the request)
  bool has_seed = false;         // --seed given
  uint64_t seed = 0;
  int64_t progress_every = -1;  // --progress-every; -1: not given (unset in the request)
  // --init-from JOB[:best|last] as given (JOB an id, jobs/ID or a display name).
  std::string init_from;

  // list: JOB_STATE_UNSPECIFIED = every state.
  v1::JobState state_filter = v1::JOB_STATE_UNSPECIFIED;

  // watch: replay every event instead of summarizing the finished epochs.
  bool from_start = false;

  // download
  bool best = false;
  std::string output_file;

  // logs: --follow (also submit's flag), --events (the job's LogLine events instead of
  // its train.log).
  bool events = false;

  // metrics
  MetricsFormat metrics_format = MetricsFormat::kCsv;

  // get, cancel: "sweeps/{id}" when the argument names a sweep (then job is "").
  std::string sweep;

  // sweep CONFIG.yaml (also display_name, priority, resources, validate_only,
  // config_path)
  struct Grid {
    std::string key;
    std::vector<std::string> values;
  };
  struct Range {
    std::string key;
    double min = 0;
    double max = 0;
    bool log = false;
    bool integer = false;  // both bounds written as integers
  };
  std::vector<Grid> grid;           // --grid KEY=V1,V2,...
  std::vector<Range> ranges;        // --uniform / --log-uniform KEY=LO,HI
  int32_t random_trials = 0;        // --random N
  std::vector<uint64_t> seeds;      // --seeds S1,S2,...
  std::string early_stop = "none";  // --early-stop none|median|halving
  int32_t grace_epochs = 0;         // --grace-epochs
  int32_t eta = 0;                  // --eta
  int32_t min_trials = 0;           // --min-trials
  bool has_sampling_seed = false;   // --sampling-seed
  uint64_t sampling_seed = 0;
  bool nir = false;  // --format nir: convert the checkpoint to NIR (HDF5) here
};

// Parses `args` (without the program name). `default_server` is used when --server is
// not given. Errors are INVALID_ARGUMENT with a one-line message (exit code kUsage).
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args,
                                  const std::string& default_server);

// The index of the command in `args` (the first argument that is not a flag or a flag's
// value; after "--", the next one), or args.size(). Whether a flag takes a value comes
// from the flag table; a flag it does not know (a command's own, e.g. dashboard's
// --listen) takes one unless written --flag=value.
size_t CommandIndex(const std::vector<std::string>& args);

// "17" or "jobs/17" -> "jobs/17"; anything else is INVALID_ARGUMENT.
absl::StatusOr<std::string> NormalizeJobName(const std::string& job);

// "running", "RUNNING", ... -> the state; INVALID_ARGUMENT otherwise.
absl::StatusOr<v1::JobState> ParseJobState(const std::string& text);

// A random 128-bit id formatted like a UUID (version 4).
std::string RandomRequestId();

// The full --help text and the short usage printed after a usage error. Both come from
// the tables of commands and flags in args.cc, as does CommandHelpText.
std::string HelpText();
std::string UsageText();

// `edbp-client COMMAND --help` (or help COMMAND): the command's usage line, what it
// does, its own flags (one entry each) and an example; "" for a name that is not one of
// the table's (dashboard and gradient-flow have their own: DashboardHelpText,
// GradientFlowHelpText).
std::string CommandHelpText(absl::string_view command);

// Every command, in the order of --help: the table's, then gradient-flow and dashboard.
std::vector<std::string> CommandNames();

// The names of `command`'s own flags (the global ones excluded), for the tests.
std::vector<std::string> FlagsOf(absl::string_view command);

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_ARGS_H_

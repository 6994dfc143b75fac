#include "client/cli/args.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "base/job_name.h"

namespace edbp::cli {
namespace {

// Which commands accept a flag, as a bit set over Command; kGlobal: all of them.
constexpr uint32_t Bit(Command c) { return 1u << static_cast<int>(c); }
constexpr uint32_t kGlobal = ~0u;

enum class Flag {
  kServer,
  kOutput,
  kTimeout,
  kHelp,
  kName,
  kPriority,
  kFollow,
  kValidateOnly,
  kRequestId,
  kState,
  kFromStart,
  kBest,
  kOutputFile,
  kFormat,
  kTokenFile,
  kTls,
  kCaCert,
  kCert,
  kKey,
  kWorkers,
  kGpusPerWorker,
  kNodes,
};

struct FlagSpec {
  absl::string_view name;
  Flag flag;
  bool takes_value;
  uint32_t commands;
};

constexpr std::array<FlagSpec, 23> kFlags = {{
    {"--server", Flag::kServer, true, kGlobal},
    {"--output", Flag::kOutput, true, kGlobal},
    {"--timeout", Flag::kTimeout, true, kGlobal},
    {"--help", Flag::kHelp, false, kGlobal},
    {"-h", Flag::kHelp, false, kGlobal},
    {"--name", Flag::kName, true, Bit(Command::kSubmit)},
    {"--priority", Flag::kPriority, true, Bit(Command::kSubmit)},
    {"--follow", Flag::kFollow, false, Bit(Command::kSubmit)},
    {"--validate-only", Flag::kValidateOnly, false, Bit(Command::kSubmit)},
    {"--request-id", Flag::kRequestId, true, Bit(Command::kSubmit)},
    {"--workers", Flag::kWorkers, true, Bit(Command::kSubmit)},
    {"--gpus-per-worker", Flag::kGpusPerWorker, true, Bit(Command::kSubmit)},
    {"--nodes", Flag::kNodes, true, Bit(Command::kSubmit)},
    {"--state", Flag::kState, true, Bit(Command::kList)},
    {"--from-start", Flag::kFromStart, false, Bit(Command::kWatch)},
    {"--best", Flag::kBest, false, Bit(Command::kDownload)},
    {"-o", Flag::kOutputFile, true, Bit(Command::kDownload)},
    {"--format", Flag::kFormat, true, Bit(Command::kDownload)},
    {"--token-file", Flag::kTokenFile, true, kGlobal},
    {"--tls", Flag::kTls, false, kGlobal},
    {"--ca-cert", Flag::kCaCert, true, kGlobal},
    {"--cert", Flag::kCert, true, kGlobal},
    {"--key", Flag::kKey, true, kGlobal},
}};

struct CommandSpec {
  absl::string_view name;
  Command command;
  absl::string_view positional;  // "" when the command takes no argument
};

constexpr std::array<CommandSpec, 9> kCommands = {{
    {"help", Command::kHelp, ""},
    {"submit", Command::kSubmit, "CONFIG.yaml"},
    {"list", Command::kList, ""},
    {"get", Command::kGet, "JOB"},
    {"cancel", Command::kCancel, "JOB"},
    {"watch", Command::kWatch, "JOB"},
    {"logs", Command::kLogs, "JOB"},
    {"download", Command::kDownload, "JOB"},
    {"health", Command::kHealth, ""},
}};

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

struct FlagValue {
  const FlagSpec* spec;
  std::string value;
};

absl::Status ApplyFlag(const FlagValue& f, Options& o) {
  const std::string& v = f.value;
  switch (f.spec->flag) {
    case Flag::kServer:
      if (v.empty()) return Usage("--server needs an address (host:port)");
      o.server = v;
      return absl::OkStatus();
    case Flag::kOutput:
      if (v == "text") {
        o.output = OutputFormat::kText;
      } else if (v == "json") {
        o.output = OutputFormat::kJson;
      } else {
        return Usage(absl::StrCat("--output must be text or json, not '", v, "'"));
      }
      return absl::OkStatus();
    case Flag::kTimeout: {
      double seconds = 0;
      if (!absl::SimpleAtod(v, &seconds) || !(seconds > 0) || seconds > 1e6) {
        return Usage(absl::StrCat("--timeout must be a positive number of seconds, not '",
                                  v, "'"));
      }
      o.timeout = absl::Seconds(seconds);
      return absl::OkStatus();
    }
    case Flag::kHelp:
      o.command = Command::kHelp;
      return absl::OkStatus();
    case Flag::kName:
      o.display_name = v;
      return absl::OkStatus();
    case Flag::kPriority:
      if (!absl::SimpleAtoi(v, &o.priority)) {
        return Usage(absl::StrCat("--priority must be an integer, not '", v, "'"));
      }
      return absl::OkStatus();
    case Flag::kWorkers:
    case Flag::kGpusPerWorker:
    case Flag::kNodes: {
      // Ranges are the server's to check (server/resources.h); here only the syntax,
      // and 0 / negative values are refused as the server would.
      int32_t n = 0;
      if (!absl::SimpleAtoi(v, &n) ||
          n < (f.spec->flag == Flag::kGpusPerWorker ? 0 : 1)) {
        return Usage(absl::StrCat(f.spec->name, " must be an integer of at least ",
                                  f.spec->flag == Flag::kGpusPerWorker ? 0 : 1, ", not '",
                                  v, "'"));
      }
      if (f.spec->flag == Flag::kWorkers) o.workers = n;
      if (f.spec->flag == Flag::kNodes) o.nodes = n;
      if (f.spec->flag == Flag::kGpusPerWorker) o.gpus_per_worker = n;
      return absl::OkStatus();
    }
    case Flag::kFollow:
      o.follow = true;
      return absl::OkStatus();
    case Flag::kValidateOnly:
      o.validate_only = true;
      return absl::OkStatus();
    case Flag::kRequestId:
      if (v.empty()) return Usage("--request-id must not be empty");
      o.request_id = v;
      return absl::OkStatus();
    case Flag::kState: {
      absl::StatusOr<v1::JobState> state = ParseJobState(v);
      if (!state.ok()) return state.status();
      o.state_filter = *state;
      return absl::OkStatus();
    }
    case Flag::kFromStart:
      o.from_start = true;
      return absl::OkStatus();
    case Flag::kBest:
      o.best = true;
      return absl::OkStatus();
    case Flag::kFormat:
      if (v == "safetensors") {
        o.nir = false;
      } else if (v == "nir") {
        o.nir = true;
      } else {
        return Usage(absl::StrCat("--format must be safetensors or nir, not '", v, "'"));
      }
      return absl::OkStatus();
    case Flag::kOutputFile:
      if (v.empty()) return Usage("-o needs a file name");
      o.output_file = v;
      return absl::OkStatus();
    case Flag::kTokenFile:
      if (v.empty()) return Usage("--token-file needs a file name");
      o.token_file = v;
      return absl::OkStatus();
    case Flag::kTls:
      o.tls = true;
      return absl::OkStatus();
    case Flag::kCaCert:
      if (v.empty()) return Usage("--ca-cert needs a PEM file");
      o.ca_cert = v;
      return absl::OkStatus();
    case Flag::kCert:
      if (v.empty()) return Usage("--cert needs a PEM file");
      o.cert = v;
      return absl::OkStatus();
    case Flag::kKey:
      if (v.empty()) return Usage("--key needs a PEM file");
      o.key = v;
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// The command line split into its flags (with their values) and positionals.
struct SplitArgs {
  std::vector<std::string> positionals;
  std::vector<FlagValue> flags;
};

// Splits `args` by the syntax alone, without applying any flag: the command (a
// positional) decides which flags are allowed, and it may come after them.
absl::StatusOr<SplitArgs> Split(const std::vector<std::string>& args) {
  SplitArgs split;
  bool only_positionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_positionals || arg.size() < 2 || arg[0] != '-') {
      split.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positionals = true;
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : kFlags) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return Usage(absl::StrCat("unknown flag ", name));
    FlagValue f{spec, ""};
    if (eq != std::string::npos) {
      if (!spec->takes_value) return Usage(absl::StrCat(name, " takes no value"));
      f.value = arg.substr(eq + 1);
    } else if (spec->takes_value) {
      if (i + 1 >= args.size()) return Usage(absl::StrCat(name, " needs a value"));
      f.value = args[++i];
    }
    split.flags.push_back(std::move(f));
  }
  return split;
}

// The command that the first positional names.
absl::StatusOr<const CommandSpec*> FindCommand(
    const std::vector<std::string>& positionals) {
  if (positionals.empty()) return Usage("missing command");
  const CommandSpec* command = nullptr;
  for (const CommandSpec& c : kCommands) {
    if (c.name == positionals[0]) command = &c;
  }
  if (command == nullptr) {
    return Usage(absl::StrCat("unknown command '", positionals[0], "'"));
  }
  return command;
}

// Applies the flags in command-line order, each only if `command` accepts it.
absl::Status ApplyFlags(const std::vector<FlagValue>& flags, const CommandSpec& command,
                        Options& o) {
  for (const FlagValue& f : flags) {
    if ((f.spec->commands & Bit(command.command)) == 0) {
      return Usage(absl::StrCat(f.spec->name, " is not a flag of '", command.name, "'"));
    }
    if (absl::Status s = ApplyFlag(f, o); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The command's argument (CONFIG.yaml or JOB), and the defaults derived from it. After
// ApplyFlags: submit's defaults apply only where no flag set a value.
absl::Status ApplyPositional(const std::vector<std::string>& positionals,
                             const CommandSpec& command, Options& o) {
  const size_t wanted = command.positional.empty() ? 1 : 2;
  if (positionals.size() < wanted) {
    return Usage(absl::StrCat(command.name, ": missing ", command.positional));
  }
  if (positionals.size() > wanted) {
    return Usage(
        absl::StrCat(command.name, ": unexpected argument '", positionals[wanted], "'"));
  }
  switch (o.command) {
    case Command::kSubmit:
      o.config_path = positionals[1];
      if (o.display_name.empty()) {
        o.display_name = std::filesystem::path(o.config_path).stem().string();
      }
      if (o.request_id.empty()) o.request_id = RandomRequestId();
      break;
    case Command::kGet:
    case Command::kCancel:
    case Command::kWatch:
    case Command::kLogs:
    case Command::kDownload: {
      absl::StatusOr<std::string> job = NormalizeJobName(positionals[1]);
      if (!job.ok()) return job.status();
      o.job = *std::move(job);
      break;
    }
    case Command::kHelp:
    case Command::kList:
    case Command::kHealth:
      break;
  }
  return absl::OkStatus();
}

// Flags that are valid alone but not in this combination.
absl::Status CheckCombinations(const Options& o) {
  if (o.cert.empty() != o.key.empty()) {
    return Usage("--cert and --key go together (a client certificate and its key)");
  }
  if (o.command == Command::kDownload && o.output_file.empty()) {
    return Usage("download: missing -o FILE");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args,
                                  const std::string& default_server) {
  absl::StatusOr<SplitArgs> split = Split(args);
  if (!split.ok()) return split.status();
  Options o;
  o.server = default_server;
  for (const FlagValue& f : split->flags) {
    if (f.spec->flag == Flag::kHelp) return o;  // o.command is kHelp
  }
  absl::StatusOr<const CommandSpec*> command = FindCommand(split->positionals);
  if (!command.ok()) return command.status();
  o.command = (*command)->command;
  if (absl::Status s = ApplyFlags(split->flags, **command, o); !s.ok()) return s;
  if (absl::Status s = ApplyPositional(split->positionals, **command, o); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCombinations(o); !s.ok()) return s;
  return o;
}

absl::StatusOr<std::string> NormalizeJobName(const std::string& job) {
  absl::StatusOr<std::string> name = JobNameFromUserText(job);
  if (!name.ok()) return Usage(std::string(name.status().message()));
  return name;
}

absl::StatusOr<v1::JobState> ParseJobState(const std::string& text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  if (upper == "CANCELED") return v1::CANCELLED;
  if (!v1::JobState_Parse(upper, &state) || state == v1::JOB_STATE_UNSPECIFIED) {
    return Usage(
        absl::StrCat("invalid --state '", text,
                     "': expected queued, running, succeeded, failed or cancelled"));
  }
  return state;
}

std::string RandomRequestId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~0xF000ull) | 0x4000ull;            // version 4
  lo = (lo & ~(0x3ull << 62)) | (0x2ull << 62);  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF,
                         hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFull);
}

std::string UsageText() {
  return "usage: edbp-client [--server ADDR] [--output text|json] [--timeout SECONDS]\n"
         "                   [--token-file FILE] [--ca-cert FILE [--cert FILE --key "
         "FILE]]\n"
         "                   COMMAND [ARGS]   (edbp-client --help for details)\n"
         "commands: submit, list, get, cancel, watch, logs, download, health, help\n";
}

std::string HelpText() {
  return R"(usage: edbp-client [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]

A command-line client of edbp-server, the training service for spiking networks.

Commands:
  submit CONFIG.yaml    Queue a training job for the config file.
      --name NAME         display name (default: the file name without extension)
      --priority N        higher runs first (default 0)
      --validate-only     only check the config; no job is created
      --request-id ID     makes retries idempotent (default: a fresh random id)
      --workers N         MPI ranks of the data-parallel job (default 1; the config's
                          batch_size must be divisible by N)
      --gpus-per-worker G GPUs per rank (default: 1 on a server with GPUs, else 0)
      --nodes M           machines to spread the ranks over (default 1; Slurm only)
      --follow            then watch the job and exit with its outcome
  list                  List the jobs, newest first (every page).
      --state STATE       only jobs in STATE: queued, running, succeeded, failed,
                          cancelled
  get JOB               Show every field of a job, its config included.
  cancel JOB            Cancel a queued or running job.
  watch JOB             Follow a job until it ends: a live progress line, a row per
                        epoch with the per-layer gradient table, checkpoints, state
                        changes and log lines. By default the epochs finished so far
                        are shown as rows (with the latest layer table) and the rest
                        of the history is skipped; then live events follow. A
                        lost stream is resumed where it broke; after 4 failed
                        attempts in a row (each probe waits --timeout for the
                        server) watch exits 3.
      --from-start        replay every event from the start of the job
  logs JOB              Print the job's log lines so far, then exit.
  download JOB -o FILE  Save the job's last checkpoint in FILE (written to a
                        temporary file, then renamed).
      --best              the best-test-accuracy checkpoint instead
      --format F          safetensors (default: the checkpoint as stored) or nir:
                          the network with those weights in NIR's HDF5 layout
                          (converted here, from the config the checkpoint holds;
                          README "NIR export")
  health                Ask the server's grpc.health.v1 service; exit 0 when it is
                        SERVING, 1 when not (used by the Docker HEALTHCHECK).
  help                  Show this text.

JOB is a job id (17) or a job name (jobs/17).

Global flags (before or after the command):
  --server ADDR         edbp-server's address (default: $EDBP_SERVER, else
                        127.0.0.1:50051)
  --output text|json    json: one JSON document per result, and one JSON object
                        per line for event streams (watch, logs, submit --follow);
                        errors stay text on stderr (default text)
  --timeout SECONDS     deadline of each request; event streams have none
                        (default 10)
  --token-file FILE     bearer token for a server started with --auth-token-file
                        (the file's one line; default: $EDBP_TOKEN). Sent only
                        over TLS or to a loopback address.
  --tls                 connect with TLS, verifying the server against the
                        system's root certificates
  --ca-cert FILE        connect with TLS, verifying the server against the CA
                        certificates in FILE (PEM)
  --cert FILE, --key FILE
                        client certificate and private key (PEM) for a server
                        that requires them (mTLS: its --client-ca); implies TLS
  -h, --help            show this text

Exit codes:
  0  success; watch and submit --follow: the job SUCCEEDED
  1  watch and submit --follow: the job FAILED or was CANCELLED; any other error
  2  usage error: unknown command or flag, missing argument, unreadable CONFIG
  3  edbp-server cannot be reached
  4  not found: no such job, or no such checkpoint (yet)
  5  invalid argument: the server rejected the request (e.g. an invalid config;
     every error it lists is printed), or CONFIG is not valid UTF-8
  6  not authenticated: no token or a wrong one, or the server refused the client
     certificate
)";
}

}  // namespace edbp::cli

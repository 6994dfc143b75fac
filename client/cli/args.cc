#include "client/cli/args.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/edit_distance.h"
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
  kSeed,
  kProgressEvery,
  kInitFrom,
  kEvents,
  kGrid,
  kUniform,
  kLogUniform,
  kRandom,
  kSeeds,
  kEarlyStop,
  kGraceEpochs,
  kEta,
  kMinTrials,
  kSamplingSeed,
};

// One row per (flag, meaning): a flag that means different things to different
// commands (--follow, --format) has a row for each, and the commands' bits of its rows
// do not overlap. The rows are the parser's table and the help's source: `label` is the
// help's left column, `help` its text (lines separated by '\n'); a row with an empty
// label is an alias shown in another row's label (-h, --key, --log-uniform). Row order
// is the order of the help.
struct FlagSpec {
  absl::string_view name;
  Flag flag;
  bool takes_value;
  uint32_t commands;
  absl::string_view label;
  absl::string_view help;
};

constexpr uint32_t kCreates = Bit(Command::kSubmit) | Bit(Command::kSweep);

constexpr std::array<FlagSpec, 39> kFlags = {{
    // submit, and sweep's trials.
    {"--name", Flag::kName, true, kCreates, "--name NAME",
     "display name (default: the file name without extension)"},
    {"--priority", Flag::kPriority, true, kCreates, "--priority N",
     "higher runs first (default 0)"},
    {"--validate-only", Flag::kValidateOnly, false, kCreates, "--validate-only",
     "only check the config; no job is created"},
    {"--request-id", Flag::kRequestId, true, Bit(Command::kSubmit), "--request-id ID",
     "makes retries idempotent (default: a fresh random id)"},
    {"--workers", Flag::kWorkers, true, kCreates, "--workers N",
     "MPI ranks of the data-parallel job (default 1; the config's\n"
     "batch_size must be divisible by N)"},
    {"--gpus-per-worker", Flag::kGpusPerWorker, true, kCreates, "--gpus-per-worker G",
     "GPUs per rank (default: 1 on a server with GPUs, else 0)"},
    {"--nodes", Flag::kNodes, true, kCreates, "--nodes M",
     "machines to spread the ranks over (default 1; Slurm only)"},
    {"--seed", Flag::kSeed, true, Bit(Command::kSubmit), "--seed N",
     "seed of init, shuffling, augmentation and dropout (default:\n"
     "the config's Network.seed, else 0); the same seed repeats\n"
     "a job's numbers"},
    {"--init-from", Flag::kInitFrom, true, Bit(Command::kSubmit),
     "--init-from JOB[:best|last]",
     "start from that job's last (default) or best checkpoint\n"
     "instead of the config's initialisation (fine-tuning); the\n"
     "checkpoint is copied into the new job"},
    {"--progress-every", Flag::kProgressEvery, true, kCreates, "--progress-every N",
     "batches between progress records of the training and of\n"
     "the test pass, each pass's last batch also reported\n"
     "(0: none; at most 1000000; default: the config's\n"
     "Network.progress_every, else 20)"},
    {"--follow", Flag::kFollow, false, Bit(Command::kSubmit), "--follow",
     "then watch the job as watch --from-start does, and exit\n"
     "with its outcome"},
    // sweep
    {"--grid", Flag::kGrid, true, Bit(Command::kSweep), "--grid KEY=V1,V2,...",
     "a config key and its values (repeatable), e.g.\n"
     "--grid Network.lr=1e-4,5e-4 --grid Layers.conv_1.out_channels=8,16"},
    {"--random", Flag::kRandom, true, Bit(Command::kSweep), "--random N",
     "N random draws of the --uniform/--log-uniform keys per grid\n"
     "point"},
    {"--uniform", Flag::kUniform, true, Bit(Command::kSweep),
     "--uniform KEY=LO,HI, --log-uniform KEY=LO,HI",
     "a key drawn uniformly (or log-uniformly) in [LO, HI];\n"
     "integers when both bounds are written as integers"},
    {"--log-uniform", Flag::kLogUniform, true, Bit(Command::kSweep), "", ""},
    {"--seeds", Flag::kSeeds, true, Bit(Command::kSweep), "--seeds S1,S2,...",
     "repeat every trial with each seed"},
    {"--early-stop", Flag::kEarlyStop, true, Bit(Command::kSweep),
     "--early-stop none|median|halving",
     "stop lagging trials at epoch ends on test accuracy: below\n"
     "the median of the others (median), or outside the best 1/eta\n"
     "at rungs grace, grace*eta, ... (halving); default none"},
    {"--grace-epochs", Flag::kGraceEpochs, true, Bit(Command::kSweep), "--grace-epochs N",
     "epochs before a trial may be stopped (default 1)"},
    {"--eta", Flag::kEta, true, Bit(Command::kSweep), "--eta N",
     "halving's reduction factor (default 3)"},
    {"--min-trials", Flag::kMinTrials, true, Bit(Command::kSweep), "--min-trials N",
     "other trials that must have reached the epoch (default 2)"},
    {"--sampling-seed", Flag::kSamplingSeed, true, Bit(Command::kSweep),
     "--sampling-seed N", "seed of the random draws (default: a random one, shown)"},
    // list, watch, logs, download, metrics
    {"--state", Flag::kState, true, Bit(Command::kList), "--state STATE",
     "only jobs in STATE: queued, running, succeeded, failed,\n"
     "cancelled"},
    {"--from-start", Flag::kFromStart, false, Bit(Command::kWatch), "--from-start",
     "replay every event from the start of the job"},
    {"--follow", Flag::kFollow, false, Bit(Command::kLogs), "--follow",
     "keep printing what is appended until the job ends"},
    {"--events", Flag::kEvents, false, Bit(Command::kLogs), "--events",
     "print the job's log events (the server's and edbp-train's\n"
     "LogLine events) instead of train.log"},
    {"-o", Flag::kOutputFile, true, Bit(Command::kDownload), "-o FILE",
     "the file to write (required)"},
    {"--best", Flag::kBest, false, Bit(Command::kDownload), "--best",
     "the best-test-accuracy checkpoint instead"},
    {"--format", Flag::kFormat, true, Bit(Command::kDownload), "--format F",
     "safetensors (default: the checkpoint as stored) or nir:\n"
     "the network with those weights in NIR's HDF5 layout\n"
     "(converted here, from the config the checkpoint holds;\n"
     "README \"NIR export\")"},
    {"--format", Flag::kFormat, true, Bit(Command::kMetrics), "--format csv|jsonl",
     "csv (default): a header row, then one row per epoch with\n"
     "LAYER.FIELD columns; jsonl: one JSON object per epoch"},
    // Global flags, before or after the command.
    {"--server", Flag::kServer, true, kGlobal, "--server ADDR",
     "edbp-server's address (default: $EDBP_SERVER, else\n"
     "127.0.0.1:50051)"},
    {"--output", Flag::kOutput, true, kGlobal, "--output text|json",
     "json: one JSON document per result, and one JSON object\n"
     "per line for event streams (watch, logs, submit --follow);\n"
     "errors stay text on stderr (default text)"},
    {"--timeout", Flag::kTimeout, true, kGlobal, "--timeout SECONDS",
     "deadline of each request; event streams have none\n"
     "(default 10)"},
    {"--token-file", Flag::kTokenFile, true, kGlobal, "--token-file FILE",
     "bearer token for a server started with --auth-token-file\n"
     "(the file's one line; default: $EDBP_TOKEN). Sent only\n"
     "over TLS or to a loopback address."},
    {"--tls", Flag::kTls, false, kGlobal, "--tls",
     "connect with TLS, verifying the server against the\n"
     "system's root certificates"},
    {"--ca-cert", Flag::kCaCert, true, kGlobal, "--ca-cert FILE",
     "connect with TLS, verifying the server against the CA\n"
     "certificates in FILE (PEM)"},
    {"--cert", Flag::kCert, true, kGlobal, "--cert FILE, --key FILE",
     "client certificate and private key (PEM) for a server\n"
     "that requires them (mTLS: its --client-ca); implies TLS"},
    {"--key", Flag::kKey, true, kGlobal, "", ""},
    {"--help", Flag::kHelp, false, kGlobal, "-h, --help",
     "show this text (after a command: that command's help)"},
    {"-h", Flag::kHelp, false, kGlobal, "", ""},
}};

// One row per command, in the order of the help: its parser's positional argument and
// its help (the flags are kFlags' rows with its bit).
struct CommandSpec {
  absl::string_view name;
  Command command;
  absl::string_view positional;  // "" when the command takes no argument
  absl::string_view synopsis;    // the help's left column
  absl::string_view help;        // lines separated by '\n'
  absl::string_view example;     // a command line (lines separated by '\n')
};

constexpr std::array<CommandSpec, 14> kCommands = {{
    {"submit", Command::kSubmit, "CONFIG.yaml", "submit CONFIG.yaml",
     "Queue a training job for the config file.",
     "edbp-client submit configs/small.yaml --name small-s42 --seed 42 --follow"},
    {"sweep", Command::kSweep, "CONFIG.yaml", "sweep CONFIG.yaml",
     "Queue a sweep: one job (trial) per point of the grid, random\n"
     "draw and seed, every trial's config checked before any job\n"
     "is created.",
     "edbp-client sweep configs/small.yaml --grid Network.lr=1e-4,5e-4,1e-3 \\\n"
     "    --seeds 0,1 --early-stop median"},
    {"sweeps", Command::kSweeps, "", "sweeps",
     "List the sweeps, newest first, with their best trial.", "edbp-client sweeps"},
    {"list", Command::kList, "", "list", "List the jobs, newest first (every page).",
     "edbp-client list --state running"},
    {"get", Command::kGet, "JOB", "get JOB|sweeps/ID",
     "Show every field of a job, its config included; or a sweep\n"
     "with its trials, their state, parameters and accuracy.",
     "edbp-client get 17\n"
     "edbp-client --output json get sweeps/3"},
    {"cancel", Command::kCancel, "JOB", "cancel JOB|sweeps/ID",
     "Cancel a queued or running job; or every trial of a sweep\n"
     "still queued or running.",
     "edbp-client cancel small-s42"},
    {"watch", Command::kWatch, "JOB", "watch JOB",
     "Follow a job until it ends: a live progress line, a row per\n"
     "epoch with the per-layer gradient table, checkpoints, state\n"
     "changes and log lines. By default the epochs finished so far\n"
     "are shown as rows (with the latest layer table) and the rest\n"
     "of the history is skipped; then live events follow. A\n"
     "lost stream is resumed where it broke; after 4 failed\n"
     "attempts in a row (each probe waits --timeout for the\n"
     "server) watch exits 3.",
     "edbp-client watch 17 --from-start"},
    {"logs", Command::kLogs, "JOB", "logs JOB",
     "Print the job's train.log (everything its edbp-train printed,\n"
     "warnings included) so far, then exit.",
     "edbp-client logs 17 --follow"},
    {"download", Command::kDownload, "JOB", "download JOB -o FILE",
     "Save the job's last checkpoint in FILE (written to a\n"
     "temporary file, then renamed).",
     "edbp-client download 17 --best -o best.safetensors"},
    {"delete", Command::kDelete, "JOB", "delete JOB",
     "Delete an ended job: its history, checkpoints and files\n"
     "(cancel a queued or running job first).",
     "edbp-client delete 17"},
    {"resume", Command::kResume, "JOB", "resume JOB",
     "Queue a CANCELLED or FAILED job again; it continues from its\n"
     "last checkpoint with the same config and seed.",
     "edbp-client resume 17"},
    {"metrics", Command::kMetrics, "JOB", "metrics JOB",
     "Print every finished epoch of the job: its metrics and each\n"
     "layer's gradient statistics.",
     "edbp-client metrics 17 --format csv > epochs.csv"},
    {"health", Command::kHealth, "", "health",
     "Ask the server's grpc.health.v1 service; exit 0 when it is\n"
     "SERVING, 1 when not (used by the Docker HEALTHCHECK).",
     "edbp-client --server 10.0.0.5:50051 health"},
    {"help", Command::kHelp, "[COMMAND]", "help [COMMAND]",
     "Show this text; with COMMAND (or COMMAND --help), that\n"
     "command's usage, flags and an example.",
     "edbp-client help submit"},
}};

// The commands with a parser of their own (dashboard_command.h, gradient_flow_command.h),
// listed in the help after the table's.
constexpr std::array<absl::string_view, 2> kOwnParserCommands = {"gradient-flow",
                                                                 "dashboard"};

// `label` at `indent`, then `text` from `column` on (on the next line when the label
// reaches the column); the text's further lines start at `column`.
void AppendEntry(std::string& out, size_t indent, absl::string_view label, size_t column,
                 absl::string_view text) {
  out.append(indent, ' ');
  out.append(label.data(), label.size());
  if (indent + label.size() < column) {
    out.append(column - indent - label.size(), ' ');
  } else {
    out += '\n';
    out.append(column, ' ');
  }
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!first) out.append(column, ' ');
    absl::StrAppend(&out, line, "\n");
    first = false;
  }
}

// `text` as lines of at most `width` characters (a longer word stands alone), each
// ending in '\n'.
std::string Wrap(absl::string_view text, size_t width) {
  std::string out;
  size_t line = 0;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line > 0 && line + 1 + word.size() > width) {
      out += '\n';
      line = 0;
    } else if (line > 0) {
      out += ' ';
      ++line;
    }
    absl::StrAppend(&out, word);
    line += word.size();
  }
  return out + "\n";
}

const CommandSpec* FindCommandSpec(absl::string_view name) {
  for (const CommandSpec& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// The listed rows (a label) of `command`'s own flags, the global ones excluded.
std::vector<const FlagSpec*> OwnFlagRows(Command command) {
  std::vector<const FlagSpec*> rows;
  for (const FlagSpec& f : kFlags) {
    if (f.commands != kGlobal && (f.commands & Bit(command)) != 0 && !f.label.empty()) {
      rows.push_back(&f);
    }
  }
  return rows;
}

// The global flags' names, for the line at the end of a command's help.
std::string GlobalFlagNames() {
  std::vector<absl::string_view> names;
  for (const FlagSpec& f : kFlags) {
    if (f.commands == kGlobal && f.flag != Flag::kHelp) names.push_back(f.name);
  }
  return absl::StrJoin(names, ", ");
}

// A decimal uint64 (digits only: SimpleAtoi would take "-1" or " 5").
bool ParseU64(const std::string& v, uint64_t* out) {
  return !v.empty() && v.size() <= 20 &&
         v.find_first_not_of("0123456789") == std::string::npos &&
         absl::SimpleAtoi(v, out);
}

// "KEY=REST": the key and the rest; false without '=' or with an empty side.
bool SplitAssignment(const std::string& v, std::string* key, std::string* rest) {
  const size_t eq = v.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) return false;
  *key = v.substr(0, eq);
  *rest = v.substr(eq + 1);
  return true;
}

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
    case Flag::kSeed:
      // Digits only: SimpleAtoi would take "-1" as 2^64 - 1 or " 5" with a space.
      if (v.empty() || v.size() > 20 ||
          v.find_first_not_of("0123456789") != std::string::npos ||
          !absl::SimpleAtoi(v, &o.seed)) {
        return Usage(
            absl::StrCat("--seed must be an integer from 0 to 2^64 - 1, not '", v, "'"));
      }
      o.has_seed = true;
      return absl::OkStatus();
    case Flag::kProgressEvery:
      // The range is the server's to check (it names the field); here the syntax.
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos ||
          !absl::SimpleAtoi(v, &o.progress_every)) {
        return Usage(absl::StrCat(
            "--progress-every must be an integer >= 0 (batches between progress "
            "records; 0: none), not '",
            v, "'"));
      }
      return absl::OkStatus();
    case Flag::kInitFrom:
      if (v.empty()) return Usage("--init-from needs a job: JOB, JOB:best or JOB:last");
      o.init_from = v;
      return absl::OkStatus();
    case Flag::kEvents:
      o.events = true;
      return absl::OkStatus();
    case Flag::kGrid: {
      Options::Grid grid;
      std::string values;
      if (!SplitAssignment(v, &grid.key, &values)) {
        return Usage(
            absl::StrCat("--grid expects KEY=V1,V2,... (e.g. Network.lr=1e-4,1e-3), "
                         "not '",
                         v, "'"));
      }
      grid.values = absl::StrSplit(values, ',');
      o.grid.push_back(std::move(grid));
      return absl::OkStatus();
    }
    case Flag::kUniform:
    case Flag::kLogUniform: {
      Options::Range range;
      range.log = f.spec->flag == Flag::kLogUniform;
      std::string bounds;
      const std::vector<std::string> parts =
          SplitAssignment(v, &range.key, &bounds)
              ? std::vector<std::string>(absl::StrSplit(bounds, ','))
              : std::vector<std::string>();
      if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &range.min) ||
          !absl::SimpleAtod(parts[1], &range.max) || !std::isfinite(range.min) ||
          !std::isfinite(range.max) || range.min > range.max ||
          (range.log && !(range.min > 0))) {
        return Usage(absl::StrCat(f.spec->name, " expects KEY=LO,HI with LO <= HI",
                                  range.log ? " and LO > 0" : "", ", not '", v, "'"));
      }
      auto integral = [](const std::string& t) {
        return t.find_first_not_of("-0123456789") == std::string::npos;
      };
      range.integer = integral(parts[0]) && integral(parts[1]);
      o.ranges.push_back(std::move(range));
      return absl::OkStatus();
    }
    case Flag::kRandom:
      if (!absl::SimpleAtoi(v, &o.random_trials) || o.random_trials < 1) {
        return Usage(
            absl::StrCat("--random must be a number of draws >= 1, not '", v, "'"));
      }
      return absl::OkStatus();
    case Flag::kSeeds:
      o.seeds.clear();
      for (const std::string& part : std::vector<std::string>(absl::StrSplit(v, ','))) {
        uint64_t seed = 0;
        if (!ParseU64(part, &seed)) {
          return Usage(
              absl::StrCat("--seeds expects S1,S2,... of integers >= 0, not '", v, "'"));
        }
        o.seeds.push_back(seed);
      }
      return absl::OkStatus();
    case Flag::kEarlyStop:
      if (v != "none" && v != "median" && v != "halving") {
        return Usage(
            absl::StrCat("--early-stop must be none, median or halving, not '", v, "'"));
      }
      o.early_stop = v;
      return absl::OkStatus();
    case Flag::kGraceEpochs:
    case Flag::kEta:
    case Flag::kMinTrials: {
      int32_t n = 0;
      if (!absl::SimpleAtoi(v, &n) || n < 0) {
        return Usage(
            absl::StrCat(f.spec->name, " must be an integer >= 0, not '", v, "'"));
      }
      (f.spec->flag == Flag::kGraceEpochs ? o.grace_epochs
       : f.spec->flag == Flag::kEta       ? o.eta
                                          : o.min_trials) = n;
      return absl::OkStatus();
    }
    case Flag::kSamplingSeed:
      if (!ParseU64(v, &o.sampling_seed)) {
        return Usage(
            absl::StrCat("--sampling-seed must be an integer >= 0, not '", v, "'"));
      }
      o.has_sampling_seed = true;
      return absl::OkStatus();
    case Flag::kFormat:
      if (o.command == Command::kDownload) {
        if (v == "safetensors") {
          o.nir = false;
        } else if (v == "nir") {
          o.nir = true;
        } else {
          return Usage(
              absl::StrCat("--format must be safetensors or nir, not '", v, "'"));
        }
      } else if (v == "csv") {
        o.metrics_format = MetricsFormat::kCsv;
      } else if (v == "jsonl") {
        o.metrics_format = MetricsFormat::kJsonl;
      } else {
        return Usage(absl::StrCat("--format must be csv or jsonl, not '", v, "'"));
      }
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
      if (s.name == name && spec == nullptr) spec = &s;  // ApplyFlags picks the row
    }
    if (spec == nullptr) {
      std::vector<absl::string_view> names;
      names.reserve(kFlags.size());
      for (const FlagSpec& s : kFlags) names.push_back(s.name);
      const std::optional<std::string> close = ClosestMatch(name, names);
      return Usage(
          absl::StrCat("unknown flag ", name,
                       close ? absl::StrCat(" (did you mean ", *close, "?)") : ""));
    }
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
  const CommandSpec* command = FindCommandSpec(positionals[0]);
  if (command == nullptr) {
    std::vector<absl::string_view> names;
    names.reserve(kCommands.size() + kOwnParserCommands.size());
    for (const CommandSpec& c : kCommands) names.push_back(c.name);
    names.insert(names.end(), kOwnParserCommands.begin(), kOwnParserCommands.end());
    const std::optional<std::string> close = ClosestMatch(positionals[0], names);
    return Usage(
        absl::StrCat("unknown command '", positionals[0], "'",
                     close ? absl::StrCat(" (did you mean '", *close, "'?)") : ""));
  }
  return command;
}

// Applies the flags in command-line order, each only if `command` accepts it.
absl::Status ApplyFlags(const std::vector<FlagValue>& flags, const CommandSpec& command,
                        Options& o) {
  for (FlagValue f : flags) {
    // The flag's row for this command (--follow and --format have one per meaning).
    const FlagSpec* row = nullptr;
    for (const FlagSpec& spec : kFlags) {
      if (spec.name == f.spec->name && (spec.commands & Bit(command.command)) != 0) {
        row = &spec;
      }
    }
    if (row == nullptr) {
      return Usage(absl::StrCat(f.spec->name, " is not a flag of '", command.name, "'"));
    }
    f.spec = row;
    if (absl::Status s = ApplyFlag(f, o); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The command's argument (CONFIG.yaml or JOB), and the defaults derived from it. After
// ApplyFlags: submit's defaults apply only where no flag set a value.
absl::Status ApplyPositional(const std::vector<std::string>& positionals,
                             const CommandSpec& command, Options& o) {
  if (o.command == Command::kHelp) return absl::OkStatus();  // HelpTopic's
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
    case Command::kSweep:
      o.config_path = positionals[1];
      if (o.display_name.empty()) {
        o.display_name = std::filesystem::path(o.config_path).stem().string();
      }
      if (o.request_id.empty()) o.request_id = RandomRequestId();
      break;
    case Command::kGet:
    case Command::kCancel:
      if (absl::StartsWith(positionals[1], "sweeps/")) {
        o.sweep = positionals[1];
        break;
      }
      [[fallthrough]];
    case Command::kWatch:
    case Command::kLogs:
    case Command::kDownload:
    case Command::kDelete:
    case Command::kResume:
    case Command::kMetrics: {
      // An id or jobs/ID; anything else is a display name, looked up on the server.
      absl::StatusOr<std::string> job = NormalizeJobName(positionals[1]);
      if (job.ok()) {
        o.job = *std::move(job);
      } else if (positionals[1].empty()) {
        return Usage(absl::StrCat(command.name, ": JOB must not be empty"));
      } else {
        o.job_display_name = positionals[1];
      }
      break;
    }
    case Command::kHelp:
    case Command::kList:
    case Command::kHealth:
    case Command::kSweeps:
      break;
  }
  return absl::OkStatus();
}

// Flags that are valid alone but not in this combination.
absl::Status CheckCombinations(const Options& o) {
  if (o.cert.empty() != o.key.empty()) {
    return Usage("--cert and --key go together (a client certificate and its key)");
  }
  if (o.command == Command::kSweep && o.ranges.empty() != (o.random_trials == 0)) {
    return Usage("sweep: --random N and --uniform/--log-uniform go together");
  }
  if (o.command == Command::kDownload && o.output_file.empty()) {
    return Usage("download: missing -o FILE");
  }
  return absl::OkStatus();
}

// The command whose help is asked for: "" for the whole text (--help alone, or help),
// else the command that COMMAND --help or help COMMAND names (one of the table's, or
// dashboard or gradient-flow when asked as help COMMAND; help --help is help's own).
absl::StatusOr<std::string> HelpTopic(const std::vector<std::string>& positionals,
                                      bool help_flag) {
  if (positionals.empty()) return std::string();
  const bool help_command = positionals[0] == "help";
  if (help_command && positionals.size() == 1) {
    return help_flag ? std::string("help") : std::string();
  }
  const std::string& topic = positionals[help_command ? 1 : 0];
  if (help_command && positionals.size() > 2) {
    return Usage(absl::StrCat("help: unexpected argument '", positionals[2], "'"));
  }
  for (absl::string_view own : kOwnParserCommands) {
    if (topic == own) return topic;
  }
  absl::StatusOr<const CommandSpec*> command = FindCommand({topic});
  if (!command.ok()) return command.status();
  return topic;
}

}  // namespace

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args,
                                  const std::string& default_server) {
  absl::StatusOr<SplitArgs> split = Split(args);
  if (!split.ok()) return split.status();
  Options o;
  o.server = default_server;
  const bool help_flag =
      std::any_of(split->flags.begin(), split->flags.end(),
                  [](const FlagValue& f) { return f.spec->flag == Flag::kHelp; });
  if (help_flag || (!split->positionals.empty() && split->positionals[0] == "help")) {
    absl::StatusOr<std::string> topic = HelpTopic(split->positionals, help_flag);
    if (!topic.ok()) return topic.status();
    o.command = Command::kHelp;
    o.help_topic = *std::move(topic);
    return o;
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

size_t CommandIndex(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") return i + 1;
    if (arg.size() < 2 || arg[0] != '-') return i;
    if (arg.find('=') != std::string::npos) continue;
    bool takes_value = true;
    for (const FlagSpec& spec : kFlags) {
      if (spec.name == arg) takes_value = spec.takes_value;
    }
    if (takes_value) ++i;
  }
  return args.size();
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
  std::vector<absl::string_view> names;
  for (const CommandSpec& c : kCommands) {
    if (c.command != Command::kHelp) names.push_back(c.name);
  }
  names.insert(names.end(), kOwnParserCommands.begin(), kOwnParserCommands.end());
  names.emplace_back("help");
  return absl::StrCat(
      "usage: edbp-client [--server ADDR] [--output text|json] [--timeout SECONDS]\n"
      "                   [--token-file FILE] [--ca-cert FILE [--cert FILE --key "
      "FILE]]\n"
      "                   COMMAND [ARGS]   (edbp-client --help for details,\n"
      "                   edbp-client COMMAND --help for a command's flags)\n"
      "commands: ",
      absl::StrJoin(names, ", "), "\n");
}

std::string HelpText() {
  std::string out =
      "usage: edbp-client [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]\n\n"
      "A command-line client of edbp-server, the training service for spiking networks.\n"
      "edbp-client COMMAND --help (or help COMMAND) shows one command with an example.\n"
      "\nCommands:\n";
  for (size_t i = 0; i < kCommands.size(); ++i) {
    const CommandSpec& c = kCommands[i];
    // Flags an earlier command lists too are named, not repeated ("Also ... as for").
    std::string also;
    const CommandSpec* also_for = nullptr;
    std::vector<const FlagSpec*> own;
    for (const FlagSpec* f : OwnFlagRows(c.command)) {
      const CommandSpec* earlier = nullptr;
      for (size_t j = 0; j < i && earlier == nullptr; ++j) {
        if ((f->commands & Bit(kCommands[j].command)) != 0) earlier = &kCommands[j];
      }
      if (earlier == nullptr) {
        own.push_back(f);
        continue;
      }
      absl::StrAppend(&also, also.empty() ? "" : ", ", f->name);
      also_for = earlier;
    }
    std::string text(c.help);
    if (also_for != nullptr) {
      std::string line =
          Wrap(absl::StrCat("Also ", also, " as for ", also_for->name, "."), 80 - 24);
      line.pop_back();  // AppendEntry ends the entry
      absl::StrAppend(&text, "\n", line);
    }
    AppendEntry(out, 2, c.synopsis, 24, text);
    for (const FlagSpec* f : own) AppendEntry(out, 6, f->label, 26, f->help);
  }
  out += R"(
JOB is a job id (17), a job name (jobs/17) or a job's display name (submit --name)
where only one job has it.

Global flags (before or after the command):
)";
  for (const FlagSpec& f : kFlags) {
    if (f.commands == kGlobal && !f.label.empty())
      AppendEntry(out, 2, f.label, 24, f.help);
  }
  return out + R"(
Exit codes:
  0  success; watch and submit --follow: the job SUCCEEDED
  1  watch and submit --follow: the job FAILED or was CANCELLED; any other error
  2  usage error: unknown command or flag, missing argument, unreadable CONFIG
  3  edbp-server cannot be reached
  4  not found: no such job (or no job with that display name), or no such
     checkpoint (yet)
  5  invalid argument: the server rejected the request (e.g. an invalid config;
     every error it lists is printed), or CONFIG is not valid UTF-8
  6  not authenticated: no token or a wrong one, or the server refused the client
     certificate
)";
}

std::string CommandHelpText(absl::string_view name) {
  const CommandSpec* c = FindCommandSpec(name);
  if (c == nullptr) return "";
  const std::vector<const FlagSpec*> flags = OwnFlagRows(c->command);
  std::string out =
      absl::StrCat("usage: edbp-client [GLOBAL FLAGS] ", c->synopsis,
                   flags.empty() ? "" : " [FLAGS]", "\n\n", c->help, "\n\n");
  if (flags.empty()) {
    out += "Flags: none of its own.\n";
  } else {
    out += "Flags:\n";
    for (const FlagSpec* f : flags) AppendEntry(out, 2, f->label, 24, f->help);
  }
  out += "\nExample:\n";
  for (absl::string_view line : absl::StrSplit(c->example, '\n')) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  absl::StrAppend(&out, "\n",
                  Wrap(absl::StrCat("The global flags (", GlobalFlagNames(),
                                    ") work as for every command; edbp-client --help "
                                    "lists them, with JOB's forms and the exit codes."),
                       80));
  return out;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  names.reserve(kCommands.size() + kOwnParserCommands.size());
  for (const CommandSpec& c : kCommands) names.emplace_back(c.name);
  for (absl::string_view c : kOwnParserCommands) names.emplace_back(c);
  return names;
}

std::vector<std::string> FlagsOf(absl::string_view command) {
  std::vector<std::string> names;
  const CommandSpec* c = FindCommandSpec(command);
  if (c == nullptr) return names;
  for (const FlagSpec& f : kFlags) {
    if (f.commands != kGlobal && (f.commands & Bit(c->command)) != 0) {
      names.emplace_back(f.name);
    }
  }
  return names;
}

}  // namespace edbp::cli

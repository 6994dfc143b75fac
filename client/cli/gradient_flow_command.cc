#include "client/cli/gradient_flow_command.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "client/cli/channel.h"
#include "client/cli/client.h"
#include "client/common/local_program.h"
#include "google/protobuf/util/json_util.h"

namespace edbp::cli {
namespace {

namespace fs = std::filesystem;

absl::Status Usage(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

using client::DescribeExitStatus;
using client::FindTrainProgram;
using client::RunProgram;
using client::TempDir;

// Runs one ordinary command (get, download) of this command line's global flags,
// writing its results to `out`.
int RunClientCommand(Options options, std::shared_ptr<grpc::Channel> channel,
                     std::ostream& out, std::ostream& err) {
  Client client(std::move(options), std::move(channel), out, err, false);
  return static_cast<int>(client.Run());
}

}  // namespace

bool IsGradientFlowCommand(const std::vector<std::string>& args) {
  const size_t at = CommandIndex(args);
  return at < args.size() && args[at] == "gradient-flow";
}

absl::StatusOr<GradientFlowCommandLine> ParseGradientFlowArgs(
    const std::vector<std::string>& args, const std::string& default_server) {
  GradientFlowCommandLine line;
  const size_t command = CommandIndex(args);
  if (command >= args.size() || args[command] != "gradient-flow") {
    return Usage("not a gradient-flow command line");
  }
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == command || arg == "--") continue;
    if (arg == "--help" || arg == "-h") {
      line.help = true;
      continue;
    }
    // The command's own flags, as --flag VALUE or --flag=VALUE.
    std::string name = arg, value;
    bool has_value = false;
    if (const size_t eq = arg.find('=');
        arg.size() >= 2 && arg[0] == '-' && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name != "-o" && name != "--checkpoint" && name != "--batch" && name != "--seed" &&
        name != "--train-program") {
      rest.push_back(arg);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Usage(absl::StrCat(name, " needs a value"));
      value = args[++i];
    }
    if (name == "-o") {
      if (value.empty()) return Usage("-o needs a file name");
      line.output = value;
    } else if (name == "--checkpoint") {
      if (value != "best" && value != "last") {
        return Usage(
            absl::StrCat("--checkpoint must be best or last, not '", value, "'"));
      }
      line.best = value == "best";
    } else if (name == "--batch") {
      if (!absl::SimpleAtoi(value, &line.batch) || line.batch < 0) {
        return Usage(absl::StrCat("--batch must be an integer >= 0, not '", value, "'"));
      }
    } else if (name == "--seed") {
      line.seed_given = true;
      if (!absl::SimpleAtoi(value, &line.seed)) {
        return Usage(absl::StrCat("--seed must be an integer >= 0, not '", value, "'"));
      }
    } else {
      if (value.empty()) return Usage("--train-program needs a path");
      line.train_program = value;
    }
  }
  if (line.help) return line;
  // The global flags and JOB, parsed as for `get` ("get" stands in for the command).
  rest.insert(rest.begin(), "get");
  absl::StatusOr<Options> options = ParseArgs(rest, default_server);
  if (!options.ok()) {
    return Usage(absl::StrReplaceAll(
        options.status().message(),
        {{"'get'", "'gradient-flow'"}, {"get: ", "gradient-flow: "}}));
  }
  if (line.output.empty()) return Usage("gradient-flow: missing -o OUT");
  line.options = *std::move(options);
  return line;
}

std::string GradientFlowHelpEntry() {
  return R"(
Gradient flow:
  gradient-flow JOB -o OUT
                        Download the job's checkpoint and config and run the local
                        edbp-train --gradient-flow on them: OUT.json and OUT.html,
                        per layer and time step (edbp-client gradient-flow --help).
)";
}

std::string GradientFlowHelpText() {
  return R"(usage: edbp-client [GLOBAL FLAGS] gradient-flow JOB -o OUT [--checkpoint best|last]
                   [--batch N] [--seed N] [--train-program PATH]

Writes the gradient-flow report of a job's checkpoint: per conv/linear layer and time
step, the sum of dL/dt entering its neurons, the sum of dL/dx it passes down and its
spikes; per layer ||dL/dW|| and its silent neurons; and the gradient-sum invariant
(what a layer passes down equals what enters the spiking layer below), as OUT.json
and as OUT.html, a page that needs no network (README "Gradient flow").

How: GetJob gives the job's config, DownloadCheckpoint its checkpoint (into a
temporary directory, removed afterwards); then the local edbp-train runs
`JOB.yaml --init-weights CHECKPOINT --gradient-flow OUT` on one training batch
(file order, no augmentation, dropout off, labels injected, no optimizer step).
It runs on this machine: the config's data_path must be readable here.

  -o OUT                  the report's files: OUT.json and OUT.html (OUT may end in
                          .json or .html)
  --checkpoint best|last  which checkpoint of the job (default last)
  --batch N               which batch of the training split, 0-based (default 0)
  --seed N                edbp-train's --seed (default: the job's own seed)
  --train-program PATH    the edbp-train to run (default: the one next to
                          edbp-client)

Example:
  edbp-client gradient-flow 17 --checkpoint best -o flow   (flow.json, flow.html)

The global flags (--server, --timeout, --token-file, --tls, --ca-cert, --cert,
--key) work as for every command (edbp-client --help).

Exit codes: 0 written; 1 edbp-train failed (its output is printed) or a file could
not be written; 2 usage error, edbp-train not found; 3 edbp-server unreachable; 4 no
such job, or no such checkpoint yet; 6 not authenticated.
)";
}

int RunGradientFlowCommand(const std::vector<std::string>& args, std::ostream& out,
                           std::ostream& err, const CliEnvironment& environment) {
  const auto usage = [&](absl::string_view message) {
    err << "edbp-client: " << message << "\n"
        << "usage: edbp-client [GLOBAL FLAGS] gradient-flow JOB -o OUT "
           "[--checkpoint best|last] (--help for more)\n";
    return static_cast<int>(ExitCode::kUsage);
  };
  absl::StatusOr<GradientFlowCommandLine> line =
      ParseGradientFlowArgs(args, environment.default_server);
  if (!line.ok()) return usage(line.status().message());
  if (line->help) {
    out << GradientFlowHelpText() << std::flush;
    return static_cast<int>(ExitCode::kOk);
  }
  absl::StatusOr<std::string> train =
      FindTrainProgram(line->train_program, "--train-program");
  if (!train.ok()) return usage(train.status().message());
  const Options& options = line->options;
  ConnectionOptions connection;
  connection.server = options.server;
  connection.token_file = options.token_file;
  connection.token = environment.token;
  connection.tls = options.tls;
  connection.ca_cert_file = options.ca_cert;
  connection.cert_file = options.cert;
  connection.key_file = options.key;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(connection);
  if (!channel.ok()) return usage(channel.status().message());

  // The output's absolute path: edbp-train runs in the temporary directory.
  std::error_code ec;
  const std::string output = fs::absolute(line->output, ec).string();
  if (ec) return usage(absl::StrCat("-o ", line->output, ": ", ec.message()));

  // 1. The job (its config) through `get --output json`, as the CLI prints it.
  Options get = options;
  get.command = Command::kGet;
  get.output = OutputFormat::kJson;
  std::ostringstream job_json;
  if (const int code = RunClientCommand(get, *channel, job_json, err); code != 0) {
    return code;
  }
  v1::Job job;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(job_json.str(), &job, parse).ok()) {
    err << "edbp-client: cannot read the job's description from edbp-server\n";
    return static_cast<int>(ExitCode::kFailed);
  }
  absl::StatusOr<TempDir> dir = TempDir::Make("edbp-gradient-flow");
  if (!dir.ok()) {
    err << "edbp-client: " << dir.status().message() << "\n";
    return static_cast<int>(ExitCode::kFailed);
  }
  // "jobs/17" → "job-17"
  const std::string stem =
      absl::StrCat("job-", job.name().substr(job.name().find('/') + 1));
  const std::string config = stem + ".yaml";
  const std::string checkpoint =
      absl::StrCat(stem, line->best ? "-best" : "-last", ".safetensors");
  {
    std::ofstream file(fs::path(dir->path()) / config, std::ios::binary);
    file << job.config_yaml();
    if (!file.flush()) {
      err << "edbp-client: cannot write " << (fs::path(dir->path()) / config).string()
          << "\n";
      return static_cast<int>(ExitCode::kFailed);
    }
  }
  // 2. The checkpoint, through `download`.
  Options download = options;
  download.job = job.name();  // resolved, where JOB was a display name
  download.command = Command::kDownload;
  download.output = OutputFormat::kText;
  download.best = line->best;
  download.output_file = (fs::path(dir->path()) / checkpoint).string();
  std::ostringstream saved;
  if (const int code = RunClientCommand(download, *channel, saved, err); code != 0) {
    return code;
  }
  // 3. edbp-train on them, in the temporary directory.
  const std::vector<std::string> argv = {
      *train,
      config,
      "--init-weights",
      checkpoint,
      "--gradient-flow",
      output,
      "--gradient-flow-batch",
      absl::StrCat(line->batch),
      "--seed",
      absl::StrCat(line->seed_given ? line->seed : job.seed())};
  absl::StatusOr<std::pair<int, std::string>> ran = RunProgram(argv, dir->path());
  if (!ran.ok()) {
    err << "edbp-client: cannot run " << *train << ": " << ran.status().message() << "\n";
    return static_cast<int>(ExitCode::kFailed);
  }
  const auto& [code, text] = *ran;
  if (code != 0) {
    err << text;
    err << "edbp-client: " << *train << " failed (" << DescribeExitStatus(code) << ")\n";
    return static_cast<int>(ExitCode::kFailed);
  }
  // edbp-train's last line: "wrote OUT.json and OUT.html".
  const size_t wrote = text.rfind("wrote ");
  out << (wrote == std::string::npos ? text : text.substr(wrote)) << std::flush;
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace edbp::cli

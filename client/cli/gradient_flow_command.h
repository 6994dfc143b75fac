// `edbp-client gradient-flow JOB -o OUT`: the gradient-flow report (ALGORITHM.md §14)
// of a job's checkpoint, made on this machine.
//
// Design: the client asks edbp-server for the job (GetJob: its config YAML) and its
// checkpoint (DownloadCheckpoint, last or best) into a temporary directory, then runs
// the local edbp-train on them (`edbp-train JOB.yaml --init-weights CKPT
// --gradient-flow OUT`), found next to edbp-client's own binary or given by
// --train-program. The server needs nothing new and the report is exactly what
// edbp-train writes; the data set must be readable here at the config's data_path (as
// for the job itself). edbp-train runs in the temporary directory, so the report names
// the files as "job-ID.yaml" and "job-ID-last.safetensors" (the same bytes on every
// run); the directory is removed afterwards.
//
// Like `dashboard`, the command is recognised before the CLI's own parsing (it has its
// own flags); the global flags go through ParseArgs and the channel through
// MakeChannel as for every command.
#ifndef EDBP_CLIENT_CLI_GRADIENT_FLOW_COMMAND_H_
#define EDBP_CLIENT_CLI_GRADIENT_FLOW_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli/args.h"
#include "client/cli/cli.h"

namespace edbp::cli {

// Whether the command of `args` (the first argument that is neither a flag nor a
// flag's value) is "gradient-flow".
bool IsGradientFlowCommand(const std::vector<std::string>& args);

struct GradientFlowCommandLine {
  Options options;            // the global flags and options.job (command kGet stands in)
  std::string output;         // -o OUT (OUT.json and OUT.html; OUT may end in either)
  bool best = false;          // --checkpoint best (default last)
  int64_t batch = 0;          // --batch: which training batch, 0-based
  uint64_t seed = 0;          // --seed, passed to edbp-train
  bool seed_given = false;    // else the job's own seed (Job.seed)
  std::string train_program;  // --train-program (default: edbp-train next to this binary)
  bool help = false;
};

// Parses a gradient-flow command line; INVALID_ARGUMENT with a one-line message
// otherwise (missing JOB or -o, a bad --checkpoint, --batch or --seed, an unknown flag).
absl::StatusOr<GradientFlowCommandLine> ParseGradientFlowArgs(
    const std::vector<std::string>& args, const std::string& default_server);

// Runs `edbp-client gradient-flow ...`. Prints edbp-train's "wrote ..." line on `out`.
// Exit codes as every command (args.h): 0 written; 1 edbp-train failed (its output on
// `err`) or a local file could not be written; 2 usage (edbp-train not found
// included); 3 unreachable; 4 no such job or no such checkpoint yet; 6 unauthenticated.
int RunGradientFlowCommand(const std::vector<std::string>& args, std::ostream& out,
                           std::ostream& err, const CliEnvironment& environment);

// The command's --help text, and its entry in edbp-client --help.
std::string GradientFlowHelpText();
std::string GradientFlowHelpEntry();

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_GRADIENT_FLOW_COMMAND_H_

#include "worker/train_args.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/flag_spelling.h"
#include "core/config/config.h"

ABSL_FLAG(std::string, out_dir, "",
          "Directory for checkpoint_last/best.safetensors (default runs/<config name>)");
ABSL_FLAG(int64_t, epochs, 0, "Override Network.epochs (0: keep the config's)");
ABSL_FLAG(int64_t, batch_size, 0, "Override Network.batch_size (0: keep the config's)");
ABSL_FLAG(uint64_t, seed, 0,
          "Seed of init, shuffling, augmentation and dropout: same seed, same metrics "
          "(default: the config's Network.seed, else 0)");
ABSL_FLAG(std::string, resume, "",
          "Continue the run in this directory from its checkpoint_last.safetensors "
          "(the config may then be omitted: the checkpoint's is used)");
ABSL_FLAG(std::string, init_weights, "",
          "Load net.* weights from this safetensors file and skip the init bisection");
ABSL_FLAG(bool, evaluate, false,
          "Only run the test set (with --init-weights or --resume) and print the "
          "accuracy and confusion matrix");
ABSL_FLAG(std::string, metrics_jsonl, "",
          "Append every record as a JSON line to this file (the statistics' names of "
          "README \"Statistics\", as edbp-client --output json)");
ABSL_FLAG(int64_t, data_limit, 0, "Use only the first N training and N test samples");
ABSL_FLAG(bool, synthetic_data, false,
          "Train on random data of the config's shape instead of the data set's files "
          "(--data-limit samples; default 1000 training, 200 test)");
ABSL_FLAG(bool, validate, false,
          "Check the config, print the network summary and exit (non-zero with every "
          "error when invalid)");
ABSL_FLAG(std::string, inspect_step, "",
          "Write one training step (first batch in file order, no augmentation, dropout "
          "off, labels injected, no optimizer step) to this safetensors file: loss, "
          "inputs, outputs, outputs_raw and every net.{i}.*.grad before clipping");
ABSL_FLAG(
    std::string, gradient_flow, "",
    "Write the gradient-flow report of one training batch to OUT.json and OUT.html "
    "(OUT may end in .json or .html) and exit: per conv/linear layer and time step "
    "the sum of dL/dt entering its neurons, the sum of dL/dx it passes down and its "
    "spikes; per layer ||dL/dW|| and its silent neurons; the gradient-sum invariant "
    "pair by pair. The batch runs as with --inspect-step (file order, no "
    "augmentation, dropout off, labels injected, no optimizer step). Weights: "
    "--init-weights or --resume, else the init bisection from --seed. Writes no "
    "other file");
ABSL_FLAG(int64_t, gradient_flow_batch, 0,
          "With --gradient-flow: which batch of the training split, 0-based, in file "
          "order (default 0, the first)");
ABSL_FLAG(std::string, export_nir, "",
          "Write the network with the --init-weights (or --resume) weights to this file "
          "in NIR's HDF5 layout (the Neuromorphic Intermediate Representation: Conv2d / "
          "Affine with the standardised weights, CubaLIF neurons, AvgPool2d, Flatten; "
          "README \"NIR export\") and exit; reads no data");
ABSL_FLAG(int64_t, progress_every, 20,
          "Batches between progress records of the training and of the test pass, each "
          "pass's last batch also reported (0: none; at most 1000000; default: the "
          "config's Network.progress_every, else 20)");
ABSL_FLAG(int64_t, checkpoint_every, 0,
          "Also write checkpoint_last.safetensors after every N-th training batch of an "
          "epoch, for --resume (a kill -9 then loses at most N batches; 0: only at epoch "
          "ends and on a stop)");
ABSL_FLAG(std::string, report_to, "",
          "gRPC target of edbp-server's worker service, e.g. unix:/data/worker.sock: "
          "every record and log line is also reported there (default: no reporting)");
ABSL_FLAG(std::string, job_id, "", "The job's id, with --report-to (required there)");
ABSL_FLAG(int64_t, attempt, 0,
          "The job's attempt, with --report-to: sent with every report; the server "
          "refuses the reports of an attempt that is not the job's running one");
ABSL_FLAG(bool, resume_if_present, false,
          "Resume from the run directory's checkpoint_last.safetensors when there is "
          "one, else start the run (decided once the directory's lock is held)");
ABSL_FLAG(int64_t, wait_for_previous, 0,
          "Seconds to wait for another edbp-train that holds the run directory's lock "
          "(sent SIGTERM at once, SIGKILL after these seconds); 0: refuse to start");
ABSL_FLAG(int64_t, check_ranks_every, 100,
          "Under MPI (several ranks): training steps between the checks that every rank "
          "holds the same parameters; the run fails when they differ (0: only after the "
          "initialisation and at epoch ends)");
ABSL_FLAG(bool, tensorboard, true,
          "Write TensorBoard event files (every statistic of README \"Statistics\" under "
          "its name, per layer NAME/LAYER: losses, accuracies, learning_rate, grad_norm, "
          "firing_rate, ...; a resumed run leaves out the steps already written); "
          "--notensorboard turns them off");
ABSL_FLAG(std::string, tensorboard_dir, "",
          "Directory of the TensorBoard event files (default <out-dir>/tensorboard)");

namespace edbp::worker {
namespace {

// --gradient-flow runs one batch and writes OUT.json and OUT.html only: no other mode,
// and none of the flags that write files or report to edbp-server.
absl::Status CheckGradientFlowFlags(const TrainArgs& args, bool evaluate) {
  if (args.gradient_flow.empty()) {
    if (args.gradient_flow_batch != 0) {
      return absl::InvalidArgumentError(
          "edbp-train: --gradient-flow-batch needs --gradient-flow OUT");
    }
    return absl::OkStatus();
  }
  if (args.gradient_flow_batch < 0) {
    return absl::InvalidArgumentError(
        "edbp-train: --gradient-flow-batch must be >= 0 (0: the first batch)");
  }
  std::string other;
  if (absl::GetFlag(FLAGS_validate)) other = "--validate";
  if (evaluate) other = "--evaluate";
  if (!args.inspect_step.empty()) other = "--inspect-step";
  if (!args.report_to.empty()) other = "--report-to";
  if (args.resume_if_present) other = "--resume-if-present";
  if (!args.metrics_jsonl.empty()) other = "--metrics-jsonl";
  if (!args.out_dir.empty()) other = "--out-dir";
  if (args.checkpoint_every > 0) other = "--checkpoint-every";
  if (!args.tensorboard_dir.empty()) other = "--tensorboard-dir";
  if (args.epochs > 0) other = "--epochs";
  if (other.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "edbp-train: --gradient-flow cannot be combined with ", other,
      " (it runs one batch of the given weights and writes only OUT.json and OUT.html)"));
}

// The reference's habit, `main.py -config X`: edbp-train takes the config as its
// positional argument, and says so (Abseil would only call -config unknown).
absl::Status CheckConfigFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view name = arg;
    if (!absl::ConsumePrefix(&name, "-")) continue;
    absl::ConsumePrefix(&name, "-");
    const size_t eq = name.find('=');
    if (name.substr(0, eq) != "config") continue;
    std::string config = "CONFIG.yaml";
    if (eq != absl::string_view::npos) {
      config = std::string(name.substr(eq + 1));
    } else if (i + 1 < argc) {
      config = argv[i + 1];
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "edbp-train: the config is positional: edbp-train ", config, " [flags]"));
  }
  return absl::OkStatus();
}

// Whether flag `name` (underscores) was given (Abseil's reflection keeps that private):
// its spellings --name, -name, --name=V, -name=V, with '-' or '_' between words, up to
// a "--" that ends the flags.
bool FlagGiven(int argc, char** argv, absl::string_view name) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string given(absl::StripPrefix(absl::StripPrefix(arg, "-"), "-"));
    given = given.substr(0, given.find('='));
    std::replace(given.begin(), given.end(), '-', '_');
    if (given == name) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<TrainArgs> ParseTrainArgs(int argc, char** argv) {
  if (absl::Status s = CheckConfigFlag(argc, argv); !s.ok()) return s;
  const absl::StatusOr<std::vector<std::string>> parsed = ParseFlags(
      argc, argv,
      "trains a spiking neural network with event-driven backpropagation.\n"
      "usage: edbp-train CONFIG.yaml [flags]\n"
      "       edbp-train --resume DIR [CONFIG.yaml] [flags]\n"
      "       edbp-train CONFIG.yaml --init-weights CKPT --gradient-flow OUT   (one\n"
      "         batch's gradient flow per layer and time step: OUT.json, OUT.html)\n"
      "       edbp-train ... --report-to unix:SOCKET --job-id ID   (run by edbp-server)\n"
      "       edbp-train CONFIG.yaml --init-weights CKPT --export-nir OUT.nir\n"
      "       mpirun -np W edbp-train CONFIG.yaml [flags]   (W data-parallel ranks;\n"
      "         also srun --mpi=pmix -K1 edbp-train ...: rank and size come from MPI,\n"
      "         Network.batch_size is the global batch, rank 0 writes and reports)\n"
      "flags may be spelled --out-dir or --out_dir\n"
      "exit status: 0 done (also --validate of a valid config); 1 a run or mode that\n"
      "  failed, or an invalid config (every error printed); 2 usage: an unknown flag\n"
      "  (with the closest one), a missing or malformed value, flags that do not go\n"
      "  together, no CONFIG; 3 stopped by a signal (checkpoint saved)\n"
      "environment: EDBP_NUM_THREADS (CPU threads; default the cores available),\n"
      "  EDBP_SPARSE=auto|off|always|blas (CPU conv/GEMM kernels; default auto: the\n"
      "  event-driven kernels skip zero spikes where the density pays; off: the same\n"
      "  kernels and sums without skipping, bit for bit the same results; always:\n"
      "  skip wherever possible; blas: dense OpenBLAS everywhere),\n"
      "  EDBP_CPU_ISA=portable|avx2|avx512 (caps the CPU kernels' instruction set;\n"
      "  default: the best the CPU has; never above it),\n"
      "  EDBP_CUDA_MODULE_DIR=DIR (where libedbp_cuda.so and libedbp_cuda_query.so\n"
      "  are; default: ../lib/edbp next to this binary)",
      "worker/train_args.cc");
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("edbp-train: ", parsed.status().message()));
  }
  const std::vector<std::string>& positional = *parsed;
  TrainArgs args;
  args.resume_dir = absl::GetFlag(FLAGS_resume);
  if (positional.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "edbp-train: one CONFIG.yaml, not '", positional[1], "' and '", positional[2],
        "'; usage: edbp-train CONFIG.yaml [flags]   (--help for the flags)"));
  }
  if (positional.size() < 2 && args.resume_dir.empty()) {
    return absl::InvalidArgumentError(
        "edbp-train: missing CONFIG.yaml; usage: edbp-train CONFIG.yaml [flags]   "
        "(--help for the flags)");
  }
  if (positional.size() == 2) args.config_path = positional[1];
  args.report_to = absl::GetFlag(FLAGS_report_to);
  args.job_id = absl::GetFlag(FLAGS_job_id);
  if (!args.report_to.empty() && args.job_id.empty()) {
    return absl::InvalidArgumentError("edbp-train: --report-to needs --job-id");
  }
  args.attempt = absl::GetFlag(FLAGS_attempt);
  args.resume_if_present = absl::GetFlag(FLAGS_resume_if_present);
  args.wait_for_previous = absl::GetFlag(FLAGS_wait_for_previous);
  if (args.attempt < 0 || args.wait_for_previous < 0) {
    return absl::InvalidArgumentError(
        "edbp-train: --attempt and --wait-for-previous must not be negative");
  }
  args.out_dir = absl::GetFlag(FLAGS_out_dir);
  args.epochs = absl::GetFlag(FLAGS_epochs);
  args.batch_size = absl::GetFlag(FLAGS_batch_size);
  args.seed = absl::GetFlag(FLAGS_seed);
  args.seed_given = FlagGiven(argc, argv, "seed");
  args.init_weights = absl::GetFlag(FLAGS_init_weights);
  args.metrics_jsonl = absl::GetFlag(FLAGS_metrics_jsonl);
  args.data_limit = absl::GetFlag(FLAGS_data_limit);
  args.synthetic_data = absl::GetFlag(FLAGS_synthetic_data);
  args.inspect_step = absl::GetFlag(FLAGS_inspect_step);
  args.gradient_flow = absl::GetFlag(FLAGS_gradient_flow);
  args.gradient_flow_batch = absl::GetFlag(FLAGS_gradient_flow_batch);
  args.export_nir = absl::GetFlag(FLAGS_export_nir);
  args.progress_every = absl::GetFlag(FLAGS_progress_every);
  args.progress_every_given = FlagGiven(argc, argv, "progress_every");
  if (args.progress_every < 0 || args.progress_every > config::kMaxProgressEvery) {
    return absl::InvalidArgumentError(
        absl::StrCat("edbp-train: --progress-every must be from 0 (no records) to ",
                     config::kMaxProgressEvery, ", not ", args.progress_every));
  }
  args.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  if (args.checkpoint_every < 0) {
    return absl::InvalidArgumentError(
        "edbp-train: --checkpoint-every must be >= 0 (0: off)");
  }
  args.check_ranks_every = absl::GetFlag(FLAGS_check_ranks_every);
  if (args.check_ranks_every < 0) {
    return absl::InvalidArgumentError(
        "edbp-train: --check-ranks-every must be >= 0 (0: at epoch ends only)");
  }
  args.tensorboard = absl::GetFlag(FLAGS_tensorboard);
  args.tensorboard_dir = absl::GetFlag(FLAGS_tensorboard_dir);
  // One mode; --validate wins, then --export-nir, --inspect-step, --evaluate.
  // --gradient-flow combines with none of them.
  const bool evaluate = absl::GetFlag(FLAGS_evaluate);
  if (absl::Status s = CheckGradientFlowFlags(args, evaluate); !s.ok()) return s;
  if (!args.gradient_flow.empty() && !args.export_nir.empty()) {
    return absl::InvalidArgumentError(
        "edbp-train: --gradient-flow and --export-nir are two modes; give one");
  }
  if (!args.gradient_flow.empty()) {
    args.mode = TrainMode::kGradientFlow;
  } else if (absl::GetFlag(FLAGS_validate)) {
    args.mode = TrainMode::kValidate;
  } else if (!args.export_nir.empty()) {
    args.mode = TrainMode::kExportNir;
    if (args.init_weights.empty() && args.resume_dir.empty()) {
      return absl::InvalidArgumentError(
          "edbp-train: --export-nir needs --init-weights or --resume (the weights to "
          "export)");
    }
  } else if (!args.inspect_step.empty()) {
    args.mode = TrainMode::kInspect;
  } else if (evaluate) {
    args.mode = TrainMode::kEvaluate;
  }
  if (evaluate && args.mode != TrainMode::kValidate && args.init_weights.empty() &&
      args.resume_dir.empty()) {
    return absl::InvalidArgumentError(
        "edbp-train: --evaluate needs --init-weights or --resume");
  }
  return args;
}

}  // namespace edbp::worker

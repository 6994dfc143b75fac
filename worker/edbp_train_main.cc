// edbp-train: trains one config end to end (ALGORITHM.md §10), or validates it,
// evaluates a checkpoint, writes the gradients of one step for inspection, or writes
// the gradient-flow report of one batch (§14).
// main() reads as the three steps: parse the command line (train_args.h), build what
// the run needs (config, backend, metrics sinks, trainer), run the mode.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/class_names.h"
#include "base/pid_lock.h"
#include "core/config/config.h"
#include "core/device.h"
#include "core/io/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/console.h"
#include "core/train/metrics.h"
#include "core/train/nir_export.h"
#include "core/train/tensorboard.h"
#include "core/train/trainer.h"
#include "dist/device_communicator.h"
#include "dist/launch.h"
#include "worker/gradient_flow_page.h"
#include "worker/report_spool.h"
#include "worker/run_lock.h"
#include "worker/train_args.h"
#include "worker/worker_reporter.h"

namespace edbp::worker {
namespace {

std::atomic<train::Trainer*> g_trainer{nullptr};
std::atomic<bool> g_stop{false};  // asked to stop, perhaps before training began

void OnSignal(int) {
  g_stop.store(true);
  if (train::Trainer* t = g_trainer.load()) t->RequestStop();
}

// The config: the file given, else the one stored in the checkpoint of --resume.
struct LoadedConfig {
  // The config's own errors (every field at fault, one per line), printed as they are;
  // `config` is what was read. A checkpoint that cannot be read is LoadConfig's error.
  absl::StatusOr<config::Config> config;
};

absl::StatusOr<LoadedConfig> LoadConfig(const TrainArgs& args,
                                        const std::string& resume_file) {
  if (!args.config_path.empty()) {
    return LoadedConfig{config::LoadConfigFile(args.config_path)};
  }
  EDBP_ASSIGN_OR_RETURN(SafeTensors checkpoint, ReadSafeTensors(resume_file));
  auto it = checkpoint.metadata.find("config");
  if (it == checkpoint.metadata.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(resume_file, ": no config stored; give the config file"));
  }
  return LoadedConfig{config::ParseConfig(it->second, resume_file + "#config")};
}

// The run's directory: --out-dir, else the --resume directory, else runs/<config name>.
std::string RunDirectory(const TrainArgs& args) {
  if (!args.out_dir.empty()) return args.out_dir;
  if (!args.resume_dir.empty()) return args.resume_dir;
  return "runs/" + std::filesystem::path(args.config_path).stem().string();
}

train::TrainerOptions MakeTrainerOptions(const TrainArgs& args,
                                         const std::string& resume_file,
                                         dist::Communicator& comm) {
  train::TrainerOptions options;
  options.comm = &comm;
  options.sync_check_every = args.check_ranks_every;
  options.out_dir = RunDirectory(args);
  options.epochs = args.epochs;
  options.seed = args.seed;
  options.data_limit = args.data_limit;
  options.synthetic_data = args.synthetic_data;
  options.progress_every = args.progress_every;
  options.checkpoint_every = args.checkpoint_every;
  options.init_weights = args.init_weights;
  options.resume_from = resume_file;
  options.keep_checkpoints = args.mode == TrainMode::kTrain;
  return options;
}

// Where the records go: the console always; a JSON-lines file, edbp-server's worker
// service and TensorBoard files where asked for. Owns them; `sink()` feeds them all.
class Sinks {
 public:
  static absl::StatusOr<std::unique_ptr<Sinks>> Open(const TrainArgs& args,
                                                     const train::TrainerOptions& options,
                                                     WorkerReporter* reporter) {
    auto sinks = std::unique_ptr<Sinks>(new Sinks());
    sinks->all_.push_back(&sinks->console_);
    if (!args.metrics_jsonl.empty()) {
      EDBP_ASSIGN_OR_RETURN(sinks->jsonl_, train::JsonlSink::Open(args.metrics_jsonl));
      sinks->all_.push_back(sinks->jsonl_.get());
    }
    if (reporter != nullptr) sinks->all_.push_back(reporter);
    if (args.tensorboard && options.keep_checkpoints) {
      const std::string dir =
          args.tensorboard_dir.empty()
              ? (std::filesystem::path(options.out_dir) / "tensorboard").string()
              : args.tensorboard_dir;
      // A resumed run leaves out the steps its first part wrote (it repeats the
      // records after the checkpoint); a fresh one writes all of its own.
      std::map<std::string, int64_t> written;
      if (!options.resume_from.empty()) written = train::LastWrittenSteps(dir);
      EDBP_ASSIGN_OR_RETURN(std::unique_ptr<train::TensorBoardWriter> writer,
                            train::TensorBoardWriter::Open(dir));
      sinks->tensorboard_ =
          std::make_unique<train::TensorBoardSink>(std::move(writer), std::move(written));
      sinks->all_.push_back(sinks->tensorboard_.get());
    }
    sinks->multi_ = std::make_unique<train::MultiSink>(sinks->all_);
    return sinks;
  }
  train::MetricsSink* sink() { return multi_.get(); }

 private:
  Sinks() = default;
  train::ConsoleSink console_{stdout, isatty(fileno(stdout)) != 0};
  std::unique_ptr<train::JsonlSink> jsonl_;
  std::unique_ptr<train::TensorBoardSink> tensorboard_;
  std::vector<train::MetricsSink*> all_;
  std::unique_ptr<train::MultiSink> multi_;
};

// Prints `message` as a line of the console and, under edbp-server, of the job's log.
void Inform(WorkerReporter* reporter, const std::string& message) {
  std::printf("%s\n", message.c_str());
  if (reporter != nullptr) reporter->Log(v1::LogLine::INFO, message);
}

// Runs the mode on a built trainer; returns the exit status (3: stopped by a signal,
// checkpoint saved) or the error.
absl::StatusOr<int> RunMode(const TrainArgs& args, const train::TrainerOptions& options,
                            train::Trainer& trainer, WorkerReporter* reporter) {
  if (args.mode == TrainMode::kInspect) {
    EDBP_ASSIGN_OR_RETURN(SafeTensors step, trainer.InspectStep());
    EDBP_RETURN_IF_ERROR(WriteSafeTensors(args.inspect_step, step));
    std::printf("loss %.7g\nwrote %s\n", step.tensors.at("loss").data[0],
                args.inspect_step.c_str());
    return 0;
  }
  if (args.mode == TrainMode::kGradientFlow) {
    EDBP_ASSIGN_OR_RETURN(const train::GradientFlowReport report,
                          trainer.GradientFlow(args.gradient_flow_batch));
    const std::string prefix = GradientFlowPrefix(args.gradient_flow);
    EDBP_RETURN_IF_ERROR(WriteGradientFlow(prefix, report));
    std::printf("loss %.7g\nwrote %s.json and %s.html%s\n", report.loss, prefix.c_str(),
                prefix.c_str(),
                GradientFlowPageHasCharts() ? "" : " (tables only: built without uPlot)");
    return 0;
  }
  if (args.mode == TrainMode::kEvaluate) {
    EDBP_ASSIGN_OR_RETURN(train::EvalResult result, trainer.Evaluate());
    std::printf("test accuracy %.2f%%  loss %.4f  (%lld samples, %.0f samples/s)\n%s",
                100 * result.accuracy, result.loss,
                static_cast<long long>(result.samples), result.samples_per_second,
                train::ConfusionTable(result.confusion, result.n_class,
                                      ClassNames(trainer.config().network.dataset))
                    .c_str());
    return 0;
  }
  if (const train::TrainingState& s = trainer.state(); s.epoch >= s.epochs) {
    // A finished run resumed: say so instead of exiting 0 without a word.
    Inform(
        reporter,
        absl::StrCat("nothing to do: ", options.out_dir, " has finished all ", s.epochs,
                     " epochs; --epochs N with N > ", s.epochs, " continues it"));
    return 0;
  }
  g_trainer.store(&trainer);
  if (g_stop.load()) trainer.RequestStop();  // fenced off before training began
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const absl::Status run = trainer.Run();
  g_trainer.store(nullptr);
  if (const train::GradientSync* sync = trainer.gradient_sync();
      sync != nullptr && sync->steps() > 0) {
    // What the ranks' gradient sums cost (bench/data_parallel_bench.sh reads this line).
    std::printf(
        "all-reduce: %lld steps of %lld bytes, %.3f s in all (%.2f ms per step)\n",
        static_cast<long long>(sync->steps()),
        static_cast<long long>(sync->bytes_per_step()), sync->seconds(),
        1e3 * sync->seconds() / static_cast<double>(sync->steps()));
  }
  if (absl::IsCancelled(run)) {
    std::printf("\nstopped; checkpoint in %s (resume with --resume %s)\n",
                options.out_dir.c_str(), options.out_dir.c_str());
    if (reporter != nullptr) reporter->Log(v1::LogLine::INFO, "stopped on request");
    return 3;
  }
  EDBP_RETURN_IF_ERROR(run);
  return 0;
}

// Everything after the run directory is settled; errors come back to the caller. Every
// rank of a data-parallel run comes here; rank 0 alone has sinks and writes files.
absl::StatusOr<int> Train(const TrainArgs& args, WorkerReporter* reporter,
                          dist::Communicator& comm) {
  const bool root = comm.rank() == 0;
  if (args.mode == TrainMode::kGradientFlow) {
    // An unwritable OUT fails now, not after the data and the step.
    EDBP_RETURN_IF_ERROR(CheckGradientFlowOutput(GradientFlowPrefix(args.gradient_flow)));
  }
  const std::string resume_file =
      args.resume_dir.empty()
          ? std::string()
          : (std::filesystem::path(args.resume_dir) / train::kLastCheckpoint).string();
  EDBP_ASSIGN_OR_RETURN(LoadedConfig loaded, LoadConfig(args, resume_file));
  if (!loaded.config.ok()) {
    const std::string message(loaded.config.status().message());
    std::fprintf(stderr, "%s\n", message.c_str());
    if (reporter != nullptr) reporter->Log(v1::LogLine::ERROR, message);
    return 1;
  }
  config::Config& config = *loaded.config;
  if (args.batch_size > 0) config.network.batch_size = args.batch_size;
  auto backend = ResolveBackend(config.network.backend, comm.local_rank());
  if (args.mode == TrainMode::kValidate) {
    std::printf("%s", train::NetworkSummary(config).c_str());
    if (!backend.ok()) return backend.status();
    std::printf("backend: %s\nconfig OK\n", (*backend)->device().ToString().c_str());
    return 0;
  }
  if (!backend.ok()) return backend.status();
  if (args.mode == TrainMode::kExportNir) {
    // The config's network with the given weights, straight to the file: no data, no
    // run directory (train/nir_export.h).
    if (!root) return 0;
    EDBP_ASSIGN_OR_RETURN(std::unique_ptr<Network> net,
                          Network::Create(config, *backend, args.seed));
    const std::string weights =
        args.init_weights.empty() ? resume_file : args.init_weights;
    EDBP_RETURN_IF_ERROR(train::LoadWeights(weights, *net));
    EDBP_RETURN_IF_ERROR(train::ExportNir(*net, args.export_nir));
    Inform(reporter, absl::StrCat("wrote ", args.export_nir, " (NIR ", train::kNirVersion,
                                  ", weights of ", weights, ")"));
    return 0;
  }

  // Ranks on GPUs, one each, sum their gradients with NCCL on the devices; otherwise
  // through host memory over the launcher's MPI (dist/device_communicator.h).
  std::unique_ptr<dist::Communicator> nccl;
  std::string why_not;
  if (dist::CanUseNccl(comm, **backend, &why_not)) {
    EDBP_ASSIGN_OR_RETURN(nccl, dist::WithNccl(&comm, *backend));
  } else if (comm.size() > 1 && (*backend)->device().type != kernels::DeviceType::kCpu) {
    Inform(reporter, "gradients go through host memory over MPI: " + why_not);
  }
  dist::Communicator& run_comm = nccl != nullptr ? *nccl : comm;
  train::TrainerOptions options = MakeTrainerOptions(args, resume_file, run_comm);
  // The config's Network.seed where the command line gives none (a resumed run keeps
  // the seed its checkpoint stores, whatever is given).
  if (!args.seed_given && config.network.seed >= 0) {
    options.seed = static_cast<uint64_t>(config.network.seed);
  }
  // Likewise Network.progress_every (a resume gets it again from the server, which
  // stored the job's).
  if (!args.progress_every_given && config.network.progress_every >= 0) {
    options.progress_every = config.network.progress_every;
  }
  if (options.keep_checkpoints && root) {
    // A kill -9 during a checkpoint write leaves its temporary file behind (issue 17).
    for (const std::string& path : train::RemoveStaleCheckpointTemps(options.out_dir)) {
      Inform(reporter, "removed " + path + " (an interrupted checkpoint write)");
    }
  }
  std::unique_ptr<Sinks> sinks;
  if (root) {
    EDBP_ASSIGN_OR_RETURN(sinks, Sinks::Open(args, options, reporter));
  }
  std::string device = (*backend)->device().ToString();
  if (run_comm.size() > 1) {
    absl::StrAppend(&device, ", rank 0 of ", run_comm.size(), " data-parallel ranks (",
                    run_comm.name(), ")");
  }
  std::printf("edbp-train: %s on %s\n", config.source_name.c_str(), device.c_str());
  if (reporter != nullptr)
    reporter->Log(v1::LogLine::INFO, "edbp-train started on " + device);
  EDBP_ASSIGN_OR_RETURN(
      std::unique_ptr<train::Trainer> trainer,
      train::Trainer::Create(config, *backend, options, root ? sinks->sink() : nullptr));
  if (!resume_file.empty() && args.mode == TrainMode::kTrain) {
    const train::TrainingState& s = trainer->state();
    std::string at = absl::StrCat("after epoch ", s.epoch);
    if (s.progress.has_value()) {
      at = s.progress->batch == s.progress->batches
               ? absl::StrCat("in epoch ", s.epoch + 1, ", its test pending")
               : absl::StrCat("in epoch ", s.epoch + 1, " after batch ",
                              s.progress->batch, " of ", s.progress->batches);
    }
    Inform(reporter, absl::StrCat("resuming ", resume_file, " ", at));
  }
  return RunMode(args, options, *trainer, reporter);
}

// Prints an error and reports it to the server.
void ReportError(WorkerReporter* reporter, const absl::Status& status,
                 const dist::Communicator& comm) {
  std::string message(status.message());
  if (comm.size() > 1) {
    message = absl::StrCat("rank ", comm.rank(), " of ", comm.size(), ": ", message);
  }
  std::fprintf(stderr, "edbp-train: %s\n", message.c_str());
  if (reporter != nullptr) reporter->Log(v1::LogLine::ERROR, message);
}

// Training owns its run directory (worker/run_lock.h) from before it reads anything in
// it until its last report is delivered or spooled; the other modes write nothing there.
// Of a data-parallel run, rank 0 alone takes the lock, spools and decides whether to
// resume, and tells the others. Returns the exit status; errors are printed and
// reported here.
int Main(TrainArgs args, WorkerReporter* reporter, dist::Communicator& comm) {
  if (args.mode != TrainMode::kTrain) {
    const absl::StatusOr<int> code = Train(args, reporter, comm);
    if (code.ok()) return *code;
    ReportError(reporter, code.status(), comm);
    return 1;
  }
  const std::filesystem::path dir = RunDirectory(args);
  std::optional<PidLock> lock;
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      ReportError(reporter,
                  absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message())),
                  comm);
      return 1;
    }
    absl::StatusOr<PidLock> locked = AcquireRunLock(
        dir, std::chrono::seconds(args.wait_for_previous), [&](pid_t holder) {
          Inform(reporter,
                 absl::StrCat("waiting for edbp-train pid ", holder,
                              " (an earlier run of ", dir.string(),
                              ") to stop; SIGKILL after ", args.wait_for_previous, " s"));
        });
    if (!locked.ok()) {
      ReportError(reporter, locked.status(), comm);
      return 1;
    }
    lock.emplace(*std::move(locked));
    if (reporter != nullptr) {
      if (absl::Status spool = reporter->AttachSpool(dir / kSpoolFile); !spool.ok()) {
        // Reports still go out; only those the server misses are lost, as before.
        std::fprintf(stderr, "edbp-train: no spool: %s\n",
                     std::string(spool.message()).c_str());
      }
    }
  }
  if (args.resume_if_present && args.resume_dir.empty()) {
    char resume =
        comm.rank() == 0 && std::filesystem::exists(dir / train::kLastCheckpoint);
    if (absl::Status told = comm.Broadcast(&resume, 1, 0); !told.ok()) {
      ReportError(reporter, told, comm);
      return 1;
    }
    if (resume != 0) args.resume_dir = dir.string();
  }
  const absl::StatusOr<int> code = Train(args, reporter, comm);
  if (!code.ok()) ReportError(reporter, code.status(), comm);
  if (reporter != nullptr) {
    constexpr std::chrono::seconds kFlushBudget(5);
    if (const uint64_t left = reporter->Flush(kFlushBudget); left > 0) {
      std::fprintf(stderr,
                   "edbp-train: %llu bytes of reports stay in %s for the server or the "
                   "job's next run\n",
                   static_cast<unsigned long long>(left), (dir / kSpoolFile).c_str());
    }
  }
  return code.ok() ? *code : 1;
}

}  // namespace
}  // namespace edbp::worker

// Exit status (listed in --help and the README's "edbp-train" section):
//   0  done (a run, or a mode: --validate of a valid config, --evaluate, ...)
//   1  a runtime failure: an invalid config (every error printed), data or a checkpoint
//      that cannot be read, a run that failed, a busy run directory
//   2  usage: whatever ParseTrainArgs refuses (worker/train_args.h), before anything runs
//   3  stopped by SIGTERM/SIGINT (or fenced off by edbp-server); checkpoint saved
int main(int argc, char** argv) {
  using edbp::worker::WorkerReporter;
  // Line-buffered even into a file (train.log under edbp-server): logs stay current.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const absl::StatusOr<edbp::worker::TrainArgs> args =
      edbp::worker::ParseTrainArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "%s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  // Issue 18: one of W ranks under an MPI launcher, else a run of one. Before any
  // thread starts (MPI_Init_thread).
  absl::StatusOr<std::unique_ptr<edbp::dist::Communicator>> comm =
      edbp::dist::CommunicatorForThisProcess();
  if (!comm.ok()) {
    std::fprintf(stderr, "edbp-train: %s\n",
                 std::string(comm.status().message()).c_str());
    return 1;
  }
  const bool root = (*comm)->rank() == 0;
  if (!root) {
    // The run's console is rank 0's; the others print only their errors (stderr).
    if (std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
  }
  // With --report-to, failures are reported to the server too (by rank 0: the others
  // print theirs, which land in the same log).
  std::unique_ptr<WorkerReporter> reporter;
  if (!args->report_to.empty() && root) {
    reporter =
        std::make_unique<WorkerReporter>(args->report_to, args->job_id, args->attempt);
    // Fenced off by the server (a newer attempt runs): checkpoint and stop.
    reporter->set_on_fenced([] { edbp::worker::OnSignal(SIGTERM); });
  }
  const int code = edbp::worker::Main(*args, reporter.get(), **comm);
  if (code != 0 && code != 3 && (*comm)->size() > 1) {
    // One rank failing ends the run now: the others may wait in a collective forever.
    std::fflush(nullptr);
    (*comm)->Abort(code);
  }
  return code;
}

// edbp-train: trains one config end to end (ALGORITHM.md §10), or validates it,
// evaluates a checkpoint, or writes the gradients of one step for inspection.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/config/config.h"
#include "core/device.h"
#include "core/io/safetensors.h"
#include "core/train/console.h"
#include "core/train/metrics.h"
#include "core/train/tensorboard.h"
#include "core/train/trainer.h"
#include "server/flag_spelling.h"
#include "server/worker_reporter.h"

ABSL_FLAG(std::string, out_dir, "",
          "Directory for checkpoint_last/best.safetensors (default runs/<config name>)");
ABSL_FLAG(int64_t, epochs, 0, "Override Network.epochs (0: keep the config's)");
ABSL_FLAG(int64_t, batch_size, 0, "Override Network.batch_size (0: keep the config's)");
ABSL_FLAG(uint64_t, seed, 0,
          "Seed of init, shuffling, augmentation and dropout: same seed, same metrics");
ABSL_FLAG(std::string, resume, "",
          "Continue the run in this directory from its checkpoint_last.safetensors "
          "(the config may then be omitted: the checkpoint's is used)");
ABSL_FLAG(std::string, init_weights, "",
          "Load net.* weights from this safetensors file and skip the init bisection");
ABSL_FLAG(bool, evaluate, false,
          "Only run the test set (with --init-weights or --resume) and print the "
          "accuracy and confusion matrix");
ABSL_FLAG(std::string, metrics_jsonl, "",
          "Append every record as a JSON line to this file");
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
          "outputs, outputs_raw and every net.{i}.*.grad before clipping");
ABSL_FLAG(int64_t, progress_every, 20, "Batches between progress records (0: none)");
ABSL_FLAG(std::string, report_to, "",
          "gRPC target of edbp-server's worker service, e.g. unix:/data/worker.sock: "
          "every record and log line is also reported there (default: no reporting)");
ABSL_FLAG(std::string, job_id, "", "The job's id, with --report-to (required there)");
ABSL_FLAG(bool, tensorboard, true,
          "Write TensorBoard event files (scalars: loss, accuracy, lr, per-layer grad "
          "norms); --notensorboard turns them off");
ABSL_FLAG(std::string, tensorboard_dir, "",
          "Directory of the TensorBoard event files (default <out-dir>/tensorboard)");

namespace {

std::atomic<edbp::train::Trainer*> g_trainer{nullptr};
// Set with --report-to: failures are reported to the server too.
edbp::server::WorkerReporter* g_reporter = nullptr;

void OnSignal(int) {
  if (edbp::train::Trainer* t = g_trainer.load()) t->RequestStop();
}

int Fail(const absl::Status& status) {
  const std::string message(status.message());
  std::fprintf(stderr, "edbp-train: %s\n", message.c_str());
  if (g_reporter != nullptr) g_reporter->Log(edbp::v1::LogLine::ERROR, message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a file (train.log under edbp-server): logs stay current.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::vector<std::string> args = edbp::server::ParseFlags(
      argc, argv,
      "trains a spiking neural network with event-driven backpropagation.\n"
      "usage: edbp-train CONFIG.yaml [flags]\n"
      "       edbp-train --resume DIR [CONFIG.yaml] [flags]\n"
      "       edbp-train ... --report-to unix:SOCKET --job-id ID   (run by edbp-server)\n"
      "flags may be spelled --out-dir or --out_dir\n"
      "exit status: 0 done, 1 error, 2 usage, 3 stopped by a signal (checkpoint saved)\n"
      "environment: EDBP_NUM_THREADS (CPU threads; default the cores available),\n"
      "  EDBP_SPARSE=auto|off|always|blas (CPU conv/GEMM kernels; default auto: the\n"
      "  event-driven kernels skip zero spikes where the density pays; off: the same\n"
      "  kernels and sums without skipping, bit for bit the same results; always:\n"
      "  skip wherever possible; blas: dense OpenBLAS everywhere)",
      "server/edbp_train_main.cc");
  if (args.size() > 2 || (args.size() < 2 && absl::GetFlag(FLAGS_resume).empty())) {
    std::fprintf(stderr,
                 "usage: edbp-train CONFIG.yaml [flags]   (--help for the flags)\n");
    return 2;
  }
  std::unique_ptr<edbp::server::WorkerReporter> reporter;
  if (!absl::GetFlag(FLAGS_report_to).empty()) {
    if (absl::GetFlag(FLAGS_job_id).empty()) {
      std::fprintf(stderr, "edbp-train: --report-to needs --job-id\n");
      return 2;
    }
    reporter = std::make_unique<edbp::server::WorkerReporter>(
        absl::GetFlag(FLAGS_report_to), absl::GetFlag(FLAGS_job_id));
    g_reporter = reporter.get();
  }
  const std::string resume_dir = absl::GetFlag(FLAGS_resume);
  const std::string resume_file =
      resume_dir.empty()
          ? std::string()
          : (std::filesystem::path(resume_dir) / edbp::train::kLastCheckpoint).string();

  // The config: the file given, else the one stored in the checkpoint.
  absl::StatusOr<edbp::config::Config> config;
  std::string config_name;
  if (args.size() == 2) {
    config = edbp::config::LoadConfigFile(args[1]);
    config_name = std::filesystem::path(args[1]).stem().string();
  } else {
    auto ckpt = edbp::ReadSafeTensors(resume_file);
    if (!ckpt.ok()) return Fail(ckpt.status());
    auto it = ckpt->metadata.find("config");
    if (it == ckpt->metadata.end()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(resume_file, ": no config stored; give the config file")));
    }
    config = edbp::config::ParseConfig(it->second, resume_file + "#config");
    config_name = std::filesystem::path(resume_dir).filename().string();
  }
  if (!config.ok()) {
    const std::string message(config.status().message());
    std::fprintf(stderr, "%s\n", message.c_str());
    if (reporter != nullptr) reporter->Log(edbp::v1::LogLine::ERROR, message);
    return 1;
  }
  if (absl::GetFlag(FLAGS_batch_size) > 0) {
    config->network.batch_size = absl::GetFlag(FLAGS_batch_size);
  }
  auto backend = edbp::ResolveBackend(config->network.backend);
  if (absl::GetFlag(FLAGS_validate)) {
    std::printf("%s", edbp::train::NetworkSummary(*config).c_str());
    if (!backend.ok()) return Fail(backend.status());
    std::printf("backend: %s\nconfig OK\n", (*backend)->device().ToString().c_str());
    return 0;
  }
  if (!backend.ok()) return Fail(backend.status());

  edbp::train::TrainerOptions options;
  options.out_dir = absl::GetFlag(FLAGS_out_dir);
  if (options.out_dir.empty()) {
    options.out_dir = resume_dir.empty() ? "runs/" + config_name : resume_dir;
  }
  options.epochs = absl::GetFlag(FLAGS_epochs);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.data_limit = absl::GetFlag(FLAGS_data_limit);
  options.synthetic_data = absl::GetFlag(FLAGS_synthetic_data);
  options.progress_every = absl::GetFlag(FLAGS_progress_every);
  options.init_weights = absl::GetFlag(FLAGS_init_weights);
  options.resume_from = resume_file;
  const bool inspect = !absl::GetFlag(FLAGS_inspect_step).empty();
  const bool evaluate = absl::GetFlag(FLAGS_evaluate);
  options.keep_checkpoints = !inspect && !evaluate;
  if (evaluate && options.init_weights.empty() && resume_file.empty()) {
    std::fprintf(stderr, "edbp-train: --evaluate needs --init-weights or --resume\n");
    return 2;
  }

  edbp::train::ConsoleSink console(stdout, isatty(fileno(stdout)) != 0);
  std::vector<edbp::train::MetricsSink*> sinks = {&console};
  std::unique_ptr<edbp::train::JsonlSink> jsonl;
  if (!absl::GetFlag(FLAGS_metrics_jsonl).empty()) {
    auto opened = edbp::train::JsonlSink::Open(absl::GetFlag(FLAGS_metrics_jsonl));
    if (!opened.ok()) return Fail(opened.status());
    jsonl = std::move(*opened);
    sinks.push_back(jsonl.get());
  }
  if (reporter != nullptr) sinks.push_back(reporter.get());
  std::unique_ptr<edbp::train::TensorBoardSink> tensorboard;
  if (absl::GetFlag(FLAGS_tensorboard) && options.keep_checkpoints) {
    std::string dir = absl::GetFlag(FLAGS_tensorboard_dir);
    if (dir.empty())
      dir = (std::filesystem::path(options.out_dir) / "tensorboard").string();
    auto writer = edbp::train::TensorBoardWriter::Open(dir);
    if (!writer.ok()) return Fail(writer.status());
    tensorboard = std::make_unique<edbp::train::TensorBoardSink>(*std::move(writer));
    sinks.push_back(tensorboard.get());
  }
  edbp::train::MultiSink sink(sinks);

  const std::string device = (*backend)->device().ToString();
  std::printf("edbp-train: %s on %s\n", config->source_name.c_str(), device.c_str());
  if (reporter != nullptr) {
    reporter->Log(edbp::v1::LogLine::INFO, "edbp-train started on " + device);
  }
  auto trainer = edbp::train::Trainer::Create(*config, *backend, options, &sink);
  if (!trainer.ok()) return Fail(trainer.status());

  if (inspect) {
    auto step = (*trainer)->InspectStep();
    if (!step.ok()) return Fail(step.status());
    const absl::Status written =
        edbp::WriteSafeTensors(absl::GetFlag(FLAGS_inspect_step), *step);
    if (!written.ok()) return Fail(written);
    std::printf("loss %.7g\nwrote %s\n", step->tensors.at("loss").data[0],
                absl::GetFlag(FLAGS_inspect_step).c_str());
    return 0;
  }
  if (evaluate) {
    auto result = (*trainer)->Evaluate();
    if (!result.ok()) return Fail(result.status());
    std::printf("test accuracy %.2f%%  loss %.4f  (%lld samples, %.0f samples/s)\n%s",
                100 * result->accuracy, result->loss,
                static_cast<long long>(result->samples), result->samples_per_second,
                edbp::train::ConfusionTable(result->confusion, result->n_class).c_str());
    return 0;
  }

  g_trainer.store(trainer->get());
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const absl::Status run = (*trainer)->Run();
  g_trainer.store(nullptr);
  if (absl::IsCancelled(run)) {
    std::printf("\nstopped; checkpoint in %s (resume with --resume %s)\n",
                options.out_dir.c_str(), options.out_dir.c_str());
    if (reporter != nullptr) reporter->Log(edbp::v1::LogLine::INFO, "stopped on request");
    return 3;
  }
  if (!run.ok()) return Fail(run);
  return 0;
}

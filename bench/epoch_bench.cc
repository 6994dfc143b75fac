// Issue 6's benchmark: the marginal cost of training plus testing one sample of a
// config on its real data, as dense-equivalent GFLOP/s ÷ OpenBLAS sgemm GFLOP/s from
// one run.
//
//   edbp_epoch_bench [--config configs/fashion_mnist.yaml] [--small 500] [--large 2000]
//                    [--modes auto,blas] [--repeats 3] [--synthetic-data]
//
// For each sparse mode (kernels/cpu/sparse.h), trains one epoch on the first --small
// and then the first --large samples of each split (training with the training
// transform, then testing), exactly as edbp-train does. The marginal seconds per
// training and per test sample are the differences of the two runs' phase times over
// the differences of their sample counts, so start-up (data loading, the §7
// initialisation, the first step's allocations) cancels; an untimed epoch runs first, so
// that the process's first-touch costs do not land in one of them. Then
//   ratio = (dense FLOPs of one training + one test sample) / (marginal seconds of
//           one training + one test sample) / sgemm FLOP/s,
// with sgemm measured right before and after the pair of epochs (their mean); 1.0 is
// what a dense implementation running every convolution and GEMM at sgemm peak would
// score. Each repeat is such a measurement on its own; the figures printed are the
// medians over --repeats (each repeat's ratio is printed too: the machine's speed
// drifts, and a ratio only holds within one window). Also prints the per-layer firing
// rates the figure was measured at (the last --large epoch), the measured operand
// densities and which path each op took, and the process's peak RSS.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/train/trainer.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sparse.h"
#include "kernels/registry.h"

namespace {

using edbp::bench::Check;

class LastEpoch final : public edbp::train::MetricsSink {
 public:
  void OnEpoch(const edbp::train::EpochMetrics& m) override { last = m; }
  edbp::train::EpochMetrics last;
};

struct Phase {
  double train_seconds = 0;  // training pass of the epoch
  double test_seconds = 0;
  int64_t train_samples = 0;
  int64_t test_samples = 0;
  edbp::train::EpochMetrics metrics;
};

Phase RunEpoch(const edbp::config::Config& config, int64_t limit, bool synthetic) {
  LastEpoch sink;
  edbp::train::TrainerOptions options;
  options.out_dir =
      (std::filesystem::temp_directory_path() / "edbp_epoch_bench").string();
  options.epochs = 1;
  options.data_limit = limit;
  options.synthetic_data = synthetic;
  options.progress_every = 0;
  options.keep_checkpoints = false;
  edbp::kernels::Backend* cpu = Check(edbp::kernels::GetBackend({}));
  auto trainer = Check(edbp::train::Trainer::Create(config, cpu, options, &sink));
  Check(trainer->Run());
  Phase p;
  p.metrics = sink.last;
  p.train_samples = sink.last.train_samples;
  p.test_samples = sink.last.test_samples;
  p.train_seconds =
      static_cast<double>(p.train_samples) / sink.last.train_samples_per_second;
  p.test_seconds =
      static_cast<double>(p.test_samples) / sink.last.test_samples_per_second;
  return p;
}

int Usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--config FILE] [--small N] [--large N] [--modes auto,off,always,blas]"
      " [--repeats N] [--synthetic-data]\n",
      argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "configs/fashion_mnist.yaml";
  int64_t small = 500, large = 2000;
  std::string modes = "auto,blas";
  bool synthetic = false;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--config") && has_value) {
      path = argv[++i];
    } else if (!std::strcmp(argv[i], "--small") && has_value) {
      small = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--large") && has_value) {
      large = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--modes") && has_value) {
      modes = argv[++i];
    } else if (!std::strcmp(argv[i], "--repeats") && has_value) {
      repeats = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--synthetic-data")) {
      synthetic = true;
    } else {
      return Usage(argv[0]);
    }
  }
  if (small < 1 || large <= small) {
    std::fprintf(stderr, "--small and --large: need 1 <= small < large\n");
    return 2;
  }
  if (repeats < 1) {
    std::fprintf(stderr, "--repeats: need at least 1\n");
    return 2;
  }
  const edbp::config::Config config = Check(edbp::config::LoadConfigFile(path));
  const edbp::bench::DenseFlops dense = edbp::bench::CountDenseFlops(config);
  edbp::kernels::Backend* cpu = Check(edbp::kernels::GetBackend({}));
  std::printf(
      "config %s  batch %lld  T %lld  threads %d  samples %lld and %lld per split\n",
      path.c_str(), static_cast<long long>(config.network.batch_size),
      static_cast<long long>(config.network.t_train), edbp::kernels::cpu::NumThreads(),
      static_cast<long long>(small), static_cast<long long>(large));

  std::stringstream list(modes);
  std::string name;
  while (std::getline(list, name, ',')) {
    edbp::kernels::cpu::SparseMode mode;
    if (!edbp::kernels::cpu::ParseSparseMode(name.c_str(), &mode)) {
      std::fprintf(stderr, "--modes: '%s' is not auto, off, always or blas\n",
                   name.c_str());
      return 2;
    }
    edbp::kernels::cpu::SetSparseMode(mode);
    std::printf("\n== sparse mode %s ==\n", name.c_str());
    // An untimed epoch first: a process's first epoch pays for page faults and cache
    // warm-up that would otherwise land in the first --small run only, not cancel, and
    // make that repeat look ~20 % faster than the rest.
    RunEpoch(config, small, synthetic);
    std::vector<double> train_ms, test_ms, sgemms, train_ratios, test_ratios, ratios;
    Phase b;
    for (int r = 0; r < repeats; ++r) {
      const double sgemm_before = edbp::bench::SgemmGflops(cpu);
      const Phase a = RunEpoch(config, small, synthetic);
      edbp::kernels::cpu::ResetOperandDensities();
      b = RunEpoch(config, large, synthetic);
      const double sgemm = 0.5 * (sgemm_before + edbp::bench::SgemmGflops(cpu));
      const double train_s = (b.train_seconds - a.train_seconds) /
                             static_cast<double>(b.train_samples - a.train_samples);
      const double test_s = (b.test_seconds - a.test_seconds) /
                            static_cast<double>(b.test_samples - a.test_samples);
      train_ms.push_back(train_s * 1e3);
      test_ms.push_back(test_s * 1e3);
      sgemms.push_back(sgemm);
      train_ratios.push_back((dense.forward + dense.backward) / train_s / 1e9 / sgemm);
      test_ratios.push_back(dense.forward / test_s / 1e9 / sgemm);
      ratios.push_back((2 * dense.forward + dense.backward) / (train_s + test_s) / 1e9 /
                       sgemm);
      std::printf(
          "repeat %d: train %.3f ms/sample, test %.3f ms/sample, sgemm %.1f GFLOP/s, "
          "train+test ratio %.3f\n",
          r + 1, train_ms.back(), test_ms.back(), sgemm, ratios.back());
    }
    using edbp::bench::Median;
    std::printf(
        "median of %d: train %.3f ms/sample (%.1f samples/s), test %.3f ms/sample "
        "(%.1f samples/s)\n",
        repeats, Median(train_ms), 1e3 / Median(train_ms), Median(test_ms),
        1e3 / Median(test_ms));
    std::printf(
        "sgemm 1024^3 %.1f GFLOP/s (median; each repeat measured before and after)\n",
        Median(sgemms));
    std::printf(
        "dense-equivalent / sgemm (medians): train %.2f, test %.2f, train+test %.2f\n",
        Median(train_ratios), Median(test_ratios), Median(ratios));
    std::printf("epoch of %lld: test accuracy %.2f %%, train accuracy %.2f %%\n",
                static_cast<long long>(large), 100 * b.metrics.test_accuracy,
                100 * b.metrics.train_accuracy);
    std::printf("| layer | firing rate | silent fraction |\n|---|---|---|\n");
    for (const auto& l : b.metrics.layers) {
      std::printf("| %s | %.3f | %.3f |\n", l.name.c_str(), l.firing_rate,
                  l.silent_fraction);
    }
    const auto densities = edbp::kernels::cpu::GetOperandDensities();
    if (!densities.empty()) {
      std::printf(
          "| op operand | density | sparse calls | dense calls |\n|---|---|---|---|\n");
      for (const auto& d : densities) {
        std::printf("| %s | %.3f | %lld | %lld |\n", d.key.c_str(),
                    static_cast<double>(d.nonzeros) / static_cast<double>(d.total),
                    static_cast<long long>(d.sparse_calls),
                    static_cast<long long>(d.dense_calls));
      }
    }
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("\npeak RSS %.1f MiB\n", static_cast<double>(usage.ru_maxrss) / 1024.0);
  return 0;
}

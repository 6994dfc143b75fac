// Times one training step (forward with labels, count loss, backward, clipping,
// optimiser step) and one test forward of a config on synthetic data of its shape, on
// the CPU or the CUDA backend, and sgemm on the same backend in the same run (OpenBLAS
// 1024³ on the CPU, cuBLAS 4096³ on the GPU), so the figures compare as ratios.
//
//   edbp_train_step_bench [--config configs/fashion_mnist.yaml] [--iters 7]
//                         [--backend cpu|cuda|auto] [--batch-size N]
//                         [--results bench/RESULTS.md] [--label TEXT]
//
// Prints medians: ms per training batch (forward / backward split), ms per test
// batch, samples/s, sgemm GFLOP/s, and the dense-equivalent GFLOP/s of training and
// testing with their ratio to sgemm: the FLOPs a dense implementation does in the
// convolutions and GEMMs (forward 2·MACs per step; backward 2·MACs for the filter
// gradient of every layer and for the data gradient of every layer but the first),
// divided by our time. A dense implementation at sgemm peak would score 1.0
// (bench/RESULTS.md). It also prints the backend's peak memory over the timed steps
// (Backend::MemoryStats: the CPU's arena or the GPU's caching allocator). --results
// appends one markdown row per run to the file's "CUDA backend" table (created at the end
// of the file if missing).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "core/config/config.h"
#include "core/device.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/optim/schedule.h"
#include "kernels/cpu/parallel.h"
#include "kernels/registry.h"

namespace {

using edbp::bench::Check;
using edbp::bench::Clock;
using edbp::bench::Median;
using edbp::bench::Seconds;

// Appends `row` to the "CUDA backend" table of `path`, creating the section.
void AppendResultRow(const std::string& path, const std::string& row) {
  std::string text;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const std::string header =
      "## CUDA backend (edbp_train_step_bench --backend cuda, scripts/gpu-check.sh)";
  std::ofstream out(path, std::ios::app);
  if (text.find(header) == std::string::npos) {
    out << "\n"
        << header << "\n\n"
        << "Synthetic input of the config's shape, labels, count loss, backward, "
           "clipping, "
           "optimiser step; test = forward without labels. sgemm = cuBLAS 4096³ FP32 on "
           "the same GPU in the same run. Peak memory = the caching allocator's peak of "
           "live blocks during the timed steps (reserved: held from the driver).\n\n"
        << "| date | device | config | batch | train ms/batch (fwd+loss / bwd+step) | "
           "train samples/s | test ms/batch | test samples/s | sgemm GFLOP/s | train "
           "dense-eq. ÷ sgemm | peak device memory MiB (reserved) |\n"
        << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  }
  out << row << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "configs/fashion_mnist.yaml";
  std::string backend_name = "cpu", results, label;
  int iters = 7;
  int64_t batch_override = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc) {
      path = argv[++i];
    } else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--backend") && i + 1 < argc) {
      backend_name = argv[++i];
    } else if (!std::strcmp(argv[i], "--batch-size") && i + 1 < argc) {
      batch_override = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--results") && i + 1 < argc) {
      results = argv[++i];
    } else if (!std::strcmp(argv[i], "--label") && i + 1 < argc) {
      label = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--config FILE] [--iters N] [--backend cpu|cuda|auto] "
                   "[--batch-size N] [--results FILE] [--label TEXT]\n",
                   argv[0]);
      return 2;
    }
  }
  edbp::config::Config config = Check(edbp::config::LoadConfigFile(path));
  if (batch_override > 0) config.network.batch_size = batch_override;
  edbp::config::BackendChoice choice;
  if (backend_name == "cpu") {
    choice = edbp::config::BackendChoice::kCpu;
  } else if (backend_name == "cuda") {
    choice = edbp::config::BackendChoice::kCuda;
  } else if (backend_name == "auto") {
    choice = edbp::config::BackendChoice::kAuto;
  } else {
    std::fprintf(stderr, "--backend: expected cpu, cuda or auto, got %s\n",
                 backend_name.c_str());
    return 2;
  }
  edbp::kernels::Backend* backend = Check(edbp::ResolveBackend(choice));
  const edbp::kernels::Device device = backend->device();
  const bool gpu = device.type == edbp::kernels::DeviceType::kCuda;
  auto net = Check(edbp::Network::Create(config, backend, 0));
  const auto& nc = config.network;
  const int64_t T = nc.t_train, B = nc.batch_size;
  edbp::Shape x_shape = {T, B};
  for (int64_t d : config.input_shape) x_shape.push_back(d);
  std::mt19937_64 rng(1);
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  std::vector<float> sample(edbp::NumElements(x_shape) / T);
  for (float& v : sample) v = pixel(rng);
  std::vector<float> xs;
  for (int64_t t = 0; t < T; ++t) xs.insert(xs.end(), sample.begin(), sample.end());
  const edbp::Tensor x = Check(edbp::Tensor::FromHost(backend, x_shape, xs));
  std::vector<int32_t> label_values(B);
  for (int64_t b = 0; b < B; ++b) label_values[b] = static_cast<int32_t>(b % nc.n_class);
  const edbp::Tensor labels =
      Check(edbp::Tensor::FromHostI32(backend, {B}, label_values));
  Check(net->InitializeByBisection(x).status());
  auto loss = Check(edbp::Loss::Create(nc));
  auto optimizer = Check(edbp::Optimizer::Create(nc, net->Parameters()));

  // The GPU runs ahead of the host: every timing point waits for the backend.
  const auto now = [&] {
    Check(backend->Synchronize());
    return Clock::now();
  };
  Check(edbp::kernels::GetDeviceMemoryStats(device, /*reset_peak=*/true).status());
  std::vector<double> fwd_s, bwd_s, test_s;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = now();
    auto f = Check(net->Forward(x, &labels, true, true));
    edbp::Tensor grad;
    Check(loss->Compute(f.output, labels, &grad).status());
    const auto t1 = now();
    Check(net->Backward(grad, f));
    std::vector<edbp::Parameter> params = net->Parameters();
    Check(edbp::ClipGradNorm(params, 1.0).status());
    Check(optimizer->Step(edbp::CosineAnnealingLr(nc.lr, 1, nc.epochs)));
    const auto t2 = now();
    Check(net->Forward(x, nullptr, false, false).status());
    const auto t3 = now();
    fwd_s.push_back(Seconds(t0, t1));
    bwd_s.push_back(Seconds(t1, t2));
    test_s.push_back(Seconds(t2, t3));
  }
  const edbp::kernels::DeviceMemoryStats memory =
      Check(edbp::kernels::GetDeviceMemoryStats(device));
  const double gflops = edbp::bench::SgemmGflops(backend);
  const double train = Median(fwd_s) + Median(bwd_s);
  const edbp::bench::DenseFlops dense = edbp::bench::CountDenseFlops(config);
  const double train_gflops = (dense.forward + dense.backward) * B / train / 1e9;
  const double test_gflops = dense.forward * B / Median(test_s) / 1e9;
  std::printf(
      "config %s  backend %s  batch %lld  T %lld  threads %d  iters %d (medians)\n",
      path.c_str(), device.ToString().c_str(), static_cast<long long>(B),
      static_cast<long long>(T), edbp::kernels::cpu::NumThreads(), iters);
  std::printf(
      "train batch  %8.1f ms  (forward+loss %.1f, backward+step %.1f)  %8.1f samples/s\n",
      train * 1e3, Median(fwd_s) * 1e3, Median(bwd_s) * 1e3, B / train);
  std::printf("test batch   %8.1f ms  %8.1f samples/s\n", Median(test_s) * 1e3,
              B / Median(test_s));
  std::printf("sgemm %s %8.1f GFLOP/s (same run, same backend)\n",
              gpu ? "4096^3 (cuBLAS)" : "1024^3", gflops);
  constexpr double kMiB = 1024.0 * 1024.0;
  std::printf("peak %s memory of the backend %.1f MiB in use, %.1f MiB reserved\n",
              device.ToString().c_str(), memory.peak_in_use / kMiB,
              memory.peak_reserved / kMiB);
  std::printf(
      "dense-equivalent: train %.1f GFLOP/s = %.2f x sgemm (%.0f MFLOP/sample), "
      "test %.1f GFLOP/s = %.2f x sgemm (%.0f MFLOP/sample)\n",
      train_gflops, train_gflops / gflops, (dense.forward + dense.backward) / 1e6,
      test_gflops, test_gflops / gflops, dense.forward / 1e6);
  if (!results.empty()) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    name = name.substr(0, name.find('.'));
    char row[1024];
    std::snprintf(
        row, sizeof(row),
        "| %s | %s | %s | %lld | %.2f (%.2f / %.2f) | %.1f | %.2f | %.1f | %.0f | "
        "%.3f | %s |",
        label.empty() ? "-" : label.c_str(), device.ToString().c_str(), name.c_str(),
        static_cast<long long>(B), train * 1e3, Median(fwd_s) * 1e3, Median(bwd_s) * 1e3,
        B / train, Median(test_s) * 1e3, B / Median(test_s), gflops,
        train_gflops / gflops,
        (std::to_string(static_cast<long long>(memory.peak_in_use / kMiB)) + " (" +
         std::to_string(static_cast<long long>(memory.peak_reserved / kMiB)) + ")")
            .c_str());
    AppendResultRow(results, row);
  }
  return 0;
}

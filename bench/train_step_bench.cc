// Times one training step (forward with labels, count loss, backward, clipping,
// optimiser step) and one test forward of a config on synthetic data of its shape, on
// the CPU backend, and OpenBLAS sgemm in the same run, so the figures compare as ratios.
//
//   edbp_train_step_bench [--config configs/fashion_mnist.yaml] [--iters 7]
//
// Prints medians: ms per training batch (forward / backward split), ms per test
// batch, samples/s, sgemm GFLOP/s (1024³, all threads), and the dense-equivalent
// GFLOP/s of training and testing with their ratio to sgemm: the FLOPs a dense
// implementation does in the convolutions and GEMMs (forward 2·MACs per step;
// backward 2·MACs for the filter gradient of every layer and for the data gradient of
// every layer but the first), divided by our time. A dense implementation at sgemm
// peak would score 1.0 (bench/RESULTS.md).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/loss/loss.h"
#include "core/network.h"
#include "core/optim/optimizer.h"
#include "core/optim/schedule.h"
#include "kernels/cpu/parallel.h"
#include "kernels/registry.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename T>
T Check(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(v.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*v);
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

// sgemm 1024³ split over the pool by rows, as the CPU backend's Gemm does.
struct DenseFlops {
  double forward = 0;   // per sample, all T steps
  double backward = 0;
};

// Dense multiply-accumulates of the conv/linear layers (per sample and step), as the
// issue counts them: 139 MFLOP forward, 271 backward per Fashion-MNIST sample.
DenseFlops CountDenseFlops(const edbp::config::Config& config) {
  DenseFlops f;
  bool first = true;
  const double steps = static_cast<double>(config.network.t_train);
  for (const auto& l : config.layers) {
    double macs = 0;
    if (l.type == edbp::config::LayerType::kConv) {
      macs = static_cast<double>(edbp::NumElements(l.out_shape)) * l.in_channels *
             l.kernel_size[0] * l.kernel_size[1];
    } else if (l.type == edbp::config::LayerType::kLinear) {
      macs = static_cast<double>(l.n_inputs) * l.n_outputs;
    } else {
      continue;
    }
    f.forward += 2 * macs * steps;
    f.backward += 2 * macs * steps * (first ? 1 : 2);
    first = false;
  }
  return f;
}

double SgemmGflops(edbp::kernels::Backend* cpu) {
  const int64_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  std::vector<double> times;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    Check(cpu->Gemm({.m = n, .n = n, .k = n, .a = a.data(), .lda = n, .b = b.data(),
                     .ldb = n, .c = c.data(), .ldc = n}));
    times.push_back(Seconds(t0, Clock::now()));
  }
  return 2.0 * n * n * n / Median(times) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "configs/fashion_mnist.yaml";
  int iters = 7;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc) {
      path = argv[++i];
    } else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--config FILE] [--iters N]\n", argv[0]);
      return 2;
    }
  }
  const edbp::config::Config config = Check(edbp::config::LoadConfigFile(path));
  edbp::kernels::Backend* cpu = Check(edbp::kernels::GetBackend({}));
  auto net = Check(edbp::Network::Create(config, cpu, 0));
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
  const edbp::Tensor x = Check(edbp::Tensor::FromHost(cpu, x_shape, xs));
  std::vector<int32_t> label_values(B);
  for (int64_t b = 0; b < B; ++b) label_values[b] = static_cast<int32_t>(b % nc.n_class);
  const edbp::Tensor labels = Check(edbp::Tensor::FromHostI32(cpu, {B}, label_values));
  Check(net->InitializeByBisection(x).status());
  auto loss = Check(edbp::Loss::Create(nc));
  auto optimizer = Check(edbp::Optimizer::Create(nc, net->Parameters()));

  std::vector<double> fwd_s, bwd_s, test_s;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    auto f = Check(net->Forward(x, &labels, true, true));
    edbp::Tensor grad;
    Check(loss->Compute(f.output, labels, &grad).status());
    const auto t1 = Clock::now();
    Check(net->Backward(grad, f));
    std::vector<edbp::Parameter> params = net->Parameters();
    Check(edbp::ClipGradNorm(params, 1.0).status());
    Check(optimizer->Step(edbp::CosineAnnealingLr(nc.lr, 1, nc.epochs)));
    const auto t2 = Clock::now();
    Check(net->Forward(x, nullptr, false, false).status());
    const auto t3 = Clock::now();
    fwd_s.push_back(Seconds(t0, t1));
    bwd_s.push_back(Seconds(t1, t2));
    test_s.push_back(Seconds(t2, t3));
  }
  const double gflops = SgemmGflops(cpu);
  const double train = Median(fwd_s) + Median(bwd_s);
  const DenseFlops dense = CountDenseFlops(config);
  const double train_gflops = (dense.forward + dense.backward) * B / train / 1e9;
  const double test_gflops = dense.forward * B / Median(test_s) / 1e9;
  std::printf("config %s  batch %lld  T %lld  threads %d  iters %d (medians)\n",
              path.c_str(), static_cast<long long>(B), static_cast<long long>(T),
              edbp::kernels::cpu::NumThreads(), iters);
  std::printf("train batch  %8.1f ms  (forward+loss %.1f, backward+step %.1f)  %8.1f samples/s\n",
              train * 1e3, Median(fwd_s) * 1e3, Median(bwd_s) * 1e3, B / train);
  std::printf("test batch   %8.1f ms  %8.1f samples/s\n", Median(test_s) * 1e3,
              B / Median(test_s));
  std::printf("sgemm 1024^3 %8.1f GFLOP/s (same run)\n", gflops);
  std::printf("dense-equivalent: train %.1f GFLOP/s = %.2f x sgemm (%.0f MFLOP/sample), "
              "test %.1f GFLOP/s = %.2f x sgemm (%.0f MFLOP/sample)\n",
              train_gflops, train_gflops / gflops, (dense.forward + dense.backward) / 1e6,
              test_gflops, test_gflops / gflops, dense.forward / 1e6);
  return 0;
}

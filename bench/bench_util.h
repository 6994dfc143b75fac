// Helpers shared by the benchmarks: medians, the dense FLOP count of a config, and
// OpenBLAS sgemm GFLOP/s measured in the calling run (figures compare as ratios).
#ifndef EDBP_BENCH_BENCH_UTIL_H_
#define EDBP_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/tensor.h"
#include "kernels/backend.h"
#include "kernels/cpu/sparse.h"

namespace edbp::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Exits with the status's message on error.
template <typename T>
T Check(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(v.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*v);
}
inline void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

struct DenseFlops {
  double forward = 0;  // per sample, all T steps
  double backward = 0;
};

// FLOPs a dense implementation does in the conv/linear layers per sample (issue 6's
// count: 139 MFLOP forward, 271 backward per Fashion-MNIST sample): forward 2·MACs per
// step; backward 2·MACs for the filter gradient of every layer and for the data
// gradient of every layer but the first.
inline DenseFlops CountDenseFlops(const config::Config& config) {
  DenseFlops f;
  bool first = true;
  const double steps = static_cast<double>(config.network.t_train);
  for (const auto& l : config.layers) {
    double macs = 0;
    if (l.type == config::LayerType::kConv) {
      macs = static_cast<double>(NumElements(l.out_shape)) * l.in_channels *
             l.kernel_size[0] * l.kernel_size[1];
    } else if (l.type == config::LayerType::kLinear) {
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

// sgemm n³ on `backend` with its own buffers (OpenBLAS 1024³ split over the pool by
// rows on the CPU, cuBLAS 4096³ on the GPU), median of 5 after two untimed calls (a
// process's first sgemm runs ~25 % slow: library buffers, page faults).
inline double SgemmGflops(kernels::Backend* backend) {
  const bool gpu = backend->device().type == kernels::DeviceType::kCuda;
  const int64_t n = gpu ? 4096 : 1024;
  const Tensor a =
      Check(Tensor::FromHost(backend, {n, n}, std::vector<float>(n * n, 0.5f)));
  const Tensor b =
      Check(Tensor::FromHost(backend, {n, n}, std::vector<float>(n * n, 0.25f)));
  const Tensor c = Check(Tensor::Zeros(backend, {n, n}));
  // The baseline is plain sgemm: on the CPU, without the sparse path's look at A.
  const kernels::cpu::SparseMode mode = kernels::cpu::GetSparseMode();
  kernels::cpu::SetSparseMode(kernels::cpu::SparseMode::kOff);
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    Check(backend->Synchronize());
    const auto t0 = Clock::now();
    Check(backend->Gemm({.m = n,
                         .n = n,
                         .k = n,
                         .a = a.f32(),
                         .lda = n,
                         .b = b.f32(),
                         .ldb = n,
                         .c = c.f32(),
                         .ldc = n}));
    Check(backend->Synchronize());
    if (i >= 2) times.push_back(Seconds(t0, Clock::now()));
  }
  kernels::cpu::SetSparseMode(mode);
  return 2.0 * n * n * n / Median(times) / 1e9;
}

}  // namespace edbp::bench

#endif  // EDBP_BENCH_BENCH_UTIL_H_

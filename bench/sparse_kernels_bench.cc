// Dense (BLAS) vs event-driven (sparse) CPU kernels on the Fashion-MNIST network's
// shapes (batch 50, T = 5), at several densities of the sparse operand, timed
// alternately in one run so that the ratios hold under any load.
//
//   edbp_sparse_kernels_bench [--iters 5] [--isa avx512,avx2,portable]
//                             [--densities 0.02,0.1] [--ops conv_2,FC_1]
//
// Prints the CPU model, then per instruction-set level (kernels/cpu/isa.h; default:
// the active one; a level above the CPU's is skipped), op and density, the median CPU
// ms (summed over threads) of each path (BLAS, the event-driven kernel, and `auto`,
// the default, which chooses between them by density) with dense ÷ sparse (> 1: the
// sparse path is faster), dense ÷ auto (< 1: the default loses to BLAS) and the path
// auto took. --densities and --ops (rows whose op name contains one of the words)
// narrow the table, e.g. to profile one case under perf. The per-level crossovers in
// kernels/cpu/sparse.cc come from this table (bench/RESULTS.md).
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/sparse.h"

namespace {

using edbp::kernels::Conv2dShape;
using edbp::kernels::cpu::SparseMode;

std::vector<float> Values(int64_t count, double density, bool spikes, std::mt19937& rng) {
  std::bernoulli_distribution on(density);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_int_distribution<int> quarter(1, 4);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) {
    if (on(rng)) x = spikes ? 0.25f * static_cast<float>(quarter(rng)) : value(rng);
  }
  return v;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// CPU seconds (all threads of this process: the pool blocks instead of spinning) of
// one call of fn under `mode`, so that other processes' load does not count.
double TimeOnce(SparseMode mode, const std::function<void()>& fn) {
  edbp::kernels::cpu::SetSparseMode(mode);
  const double t0 = CpuSeconds();
  fn();
  return CpuSeconds() - t0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The path kAuto took in the calls since the last ResetOperandDensities(): "sparse",
// "dense" (BLAS) or "mixed".
const char* AutoPath() {
  int64_t sparse = 0, dense = 0;
  for (const auto& d : edbp::kernels::cpu::GetOperandDensities()) {
    sparse += d.sparse_calls;
    dense += d.dense_calls;
  }
  return dense == 0 ? "sparse" : (sparse == 0 ? "dense" : "mixed");
}

// Times the three paths alternately: BLAS (kBlas), the event-driven kernel (kAlways)
// and the default (kAuto: counts the operand's non-zeros, then takes one of the two by
// the level's crossover; what a training run pays). dense ÷ auto below 1 beyond noise
// would mean the default loses to BLAS at that density (issue 23's acceptance).
// The --ops words (empty: every op).
std::vector<std::string>& OpFilter() {
  static std::vector<std::string> words;
  return words;
}

void Compare(const std::string& name, double density, int iters,
             const std::function<void()>& fn) {
  if (!OpFilter().empty() &&
      std::none_of(OpFilter().begin(), OpFilter().end(), [&](const std::string& word) {
        return name.find(word) != std::string::npos;
      })) {
    return;
  }
  std::vector<double> dense, sparse, automatic;
  TimeOnce(SparseMode::kAlways, fn);  // warm the scratch buffers
  TimeOnce(SparseMode::kBlas, fn);
  edbp::kernels::cpu::ResetOperandDensities();
  TimeOnce(SparseMode::kAuto, fn);
  const char* path = AutoPath();
  for (int i = 0; i < iters; ++i) {
    dense.push_back(TimeOnce(SparseMode::kBlas, fn));
    sparse.push_back(TimeOnce(SparseMode::kAlways, fn));
    automatic.push_back(TimeOnce(SparseMode::kAuto, fn));
  }
  const double d = Median(dense), s = Median(sparse), a = Median(automatic);
  std::printf("| %-8s | %-34s | %5.2f | %8.2f | %8.2f | %8.2f | %5.2f | %5.2f | %-6s |\n",
              edbp::kernels::cpu::CpuIsaName(edbp::kernels::cpu::ActiveCpuIsa()),
              name.c_str(), density, d * 1e3, s * 1e3, a * 1e3, d / s, d / a, path);
}

Conv2dShape ConvShape(int64_t n, int64_t c_in, int64_t hw, int64_t c_out) {
  Conv2dShape s;
  s.n = n;
  s.c_in = c_in;
  s.h = s.w = hw;
  s.c_out = c_out;
  s.kh = s.kw = 5;
  s.pad_h = s.pad_w = 2;
  return s;
}

// "model name" of /proc/cpuinfo, or "unknown CPU".
std::string CpuModel() {
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return "unknown CPU";
  char line[512];
  std::string model = "unknown CPU";
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "model name", 10) == 0) {
      const char* colon = std::strchr(line, ':');
      if (colon != nullptr) {
        model = colon + 2;
        while (!model.empty() && model.back() == '\n') model.pop_back();
      }
      break;
    }
  }
  std::fclose(f);
  return model;
}

// The comma-separated items of `list`.
std::vector<std::string> Split(const std::string& list) {
  std::vector<std::string> items;
  for (size_t at = 0; at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    items.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return items;
}

void RunTable(int iters, const std::vector<double>& densities) {
  std::mt19937 rng(1);       // the same operands at every level
  const int64_t rows = 250;  // T · batch
  for (const double density : densities) {
    // conv_2: 32 → 64 channels, 14×14, k5 pad 2.
    const Conv2dShape c2 = ConvShape(rows, 32, 14, 64);
    const auto x2 = Values(rows * 32 * 196, density, true, rng);
    const auto w2 = Values(64 * 32 * 25, 1.0, false, rng);
    const auto dy2 = Values(rows * 64 * 196, density, false, rng);
    std::vector<float> y2(dy2.size()), dx2(x2.size()), dw2(w2.size());
    Compare("conv_2 forward (x sparse)", density, iters, [&] {
      edbp::kernels::cpu::Conv2dForward({c2, x2.data(), w2.data(), y2.data()});
    });
    Compare("conv_2 backward data (dy sparse)", density, iters, [&] {
      edbp::kernels::cpu::Conv2dBackwardData({c2, dy2.data(), w2.data(), dx2.data()});
    });
    Compare("conv_2 backward filter (x sparse)", density, iters, [&] {
      edbp::kernels::cpu::Conv2dBackwardFilter({c2, x2.data(), dy2.data(), dw2.data()});
    });
    // FC_1: 3136 → 1024.
    const auto xf = Values(rows * 3136, density, true, rng);
    const auto wf = Values(1024 * 3136, 1.0, false, rng);
    const auto gf = Values(rows * 1024, density, false, rng);
    std::vector<float> yf(rows * 1024), dxf(rows * 3136), dwf(wf.size());
    Compare("FC_1 forward (x sparse)", density, iters, [&] {
      edbp::kernels::cpu::Gemm({.trans_b = true,
                                .m = rows,
                                .n = 1024,
                                .k = 3136,
                                .a = xf.data(),
                                .lda = 3136,
                                .b = wf.data(),
                                .ldb = 3136,
                                .c = yf.data(),
                                .ldc = 1024});
    });
    Compare("FC_1 backward data (grad sparse)", density, iters, [&] {
      edbp::kernels::cpu::Gemm({.m = rows,
                                .n = 3136,
                                .k = 1024,
                                .a = gf.data(),
                                .lda = 1024,
                                .b = wf.data(),
                                .ldb = 3136,
                                .c = dxf.data(),
                                .ldc = 3136});
    });
    Compare("FC_1 backward filter (grad sparse)", density, iters, [&] {
      edbp::kernels::cpu::Gemm({.trans_a = true,
                                .m = 1024,
                                .n = 3136,
                                .k = rows,
                                .a = gf.data(),
                                .lda = 1024,
                                .b = xf.data(),
                                .ldb = 3136,
                                .c = dwf.data(),
                                .ldc = 3136});
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  using edbp::kernels::cpu::CpuIsa;
  int iters = 5;
  std::vector<double> densities = {0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9};
  std::vector<CpuIsa> levels = {edbp::kernels::cpu::ActiveCpuIsa()};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
      levels.clear();
      for (const std::string& item : Split(argv[++i])) {
        CpuIsa level;
        if (!edbp::kernels::cpu::ParseCpuIsa(item.c_str(), &level)) {
          std::fprintf(stderr, "--isa: expected portable, avx2 or avx512, got '%s'\n",
                       item.c_str());
          return 2;
        }
        levels.push_back(level);
      }
    } else if (std::strcmp(argv[i], "--densities") == 0 && i + 1 < argc) {
      densities.clear();
      for (const std::string& item : Split(argv[++i])) {
        char* end = nullptr;
        const double d = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !(d > 0.0 && d <= 1.0)) {
          std::fprintf(stderr, "--densities: expected numbers in (0, 1], got '%s'\n",
                       item.c_str());
          return 2;
        }
        densities.push_back(d);
      }
    } else if (std::strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
      OpFilter() = Split(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--iters N] [--isa avx512,avx2,portable] "
                   "[--densities 0.02,0.1] [--ops conv_2,FC_1]\n",
                   argv[0]);
      return 2;
    }
  }
  openblas_set_num_threads(1);
  std::printf("CPU: %s (best level %s)\n\n", CpuModel().c_str(),
              edbp::kernels::cpu::CpuIsaName(edbp::kernels::cpu::DetectedCpuIsa()));
  std::printf(
      "| isa | op (Fashion-MNIST shape, T·B = 250) | density | dense CPU ms | "
      "sparse CPU ms | auto CPU ms | dense ÷ sparse | dense ÷ auto | auto took |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const CpuIsa level : levels) {
    if (level > edbp::kernels::cpu::DetectedCpuIsa()) {
      std::fprintf(stderr, "skipping %s: this CPU's best level is %s\n",
                   edbp::kernels::cpu::CpuIsaName(level),
                   edbp::kernels::cpu::CpuIsaName(edbp::kernels::cpu::DetectedCpuIsa()));
      continue;
    }
    edbp::kernels::cpu::SetCpuIsaCap(level);
    RunTable(iters, densities);
  }
  return 0;
}

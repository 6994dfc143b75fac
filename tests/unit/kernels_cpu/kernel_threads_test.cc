// The CPU ops promise results that are independent of the number of threads
// (cpu_ops.h). The pool's size is fixed per process (EDBP_NUM_THREADS), so this test
// reruns its own binary with 1, 2 and 3 threads; each run computes the same ops on the
// same inputs and writes the raw output bytes to a file, and the files must be equal.
#include <cblas.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/sparse.h"

namespace edbp::kernels::cpu {
namespace {

constexpr char kDumpEnv[] = "EDBP_KERNEL_THREADS_DUMP";

std::vector<float> Random(int64_t count, std::mt19937& rng, bool spikes) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::bernoulli_distribution spike(0.2);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = spikes ? (spike(rng) ? 1.0f : 0.0f) : dist(rng);
  return v;
}

void Append(std::string* out, const void* data, size_t bytes) {
  out->append(static_cast<const char*>(data), bytes);
}
void Append(std::string* out, const std::vector<float>& v) {
  Append(out, v.data(), v.size() * sizeof(float));
}

// Runs a set of ops whose work the pool splits, returns their outputs' bytes.
std::string ComputeAll() {
  openblas_set_num_threads(1);
  std::mt19937 rng(4242);
  std::string out;

  // Conv: the Fashion-MNIST second layer on 21 samples.
  Conv2dShape cs;
  cs.n = 21;
  cs.c_in = 8;
  cs.h = cs.w = 14;
  cs.c_out = 16;
  cs.kh = cs.kw = 5;
  cs.pad_h = cs.pad_w = 2;
  const std::vector<float> x = Random(cs.n * cs.c_in * cs.h * cs.w, rng, true);
  const std::vector<float> w = Random(cs.c_out * cs.c_in * cs.kh * cs.kw, rng, false);
  const std::vector<float> dy =
      Random(cs.n * cs.c_out * cs.out_h() * cs.out_w(), rng, false);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
  Conv2dForward({cs, x.data(), w.data(), y.data()});
  Conv2dBackwardData({cs, dy.data(), w.data(), dx.data()});
  Conv2dBackwardFilter({cs, x.data(), dy.data(), dw.data()});
  Append(&out, y);
  Append(&out, dx);
  Append(&out, dw);

  // Gemm split into row blocks, both transposes of A.
  const int64_t m = 700, n = 96, k = 300;
  const std::vector<float> a = Random(m * k, rng, false);
  const std::vector<float> b = Random(k * n, rng, false);
  for (const bool trans_a : {false, true}) {
    std::vector<float> c(m * n, 1.0f);
    GemmArgs g;
    g.trans_a = trans_a;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = a.data();
    g.lda = trans_a ? m : k;
    g.b = b.data();
    g.ldb = n;
    g.beta = 0.5f;
    g.c = c.data();
    g.ldc = n;
    Gemm(g);
    Append(&out, c);
  }

  // The event-driven paths (sparse.h), forced on: spike inputs and sparse gradients
  // through all three convolutions and the three linear-layer GEMMs.
  SetSparseMode(SparseMode::kAlways);
  std::vector<float> sparse_dy = dy;
  for (size_t i = 0; i < sparse_dy.size(); ++i) {
    if (i % 5 != 0) sparse_dy[i] = 0.0f;
  }
  Conv2dForward({cs, x.data(), w.data(), y.data()});
  Conv2dBackwardData({cs, sparse_dy.data(), w.data(), dx.data()});
  Conv2dBackwardFilter({cs, x.data(), sparse_dy.data(), dw.data()});
  Append(&out, y);
  Append(&out, dx);
  Append(&out, dw);
  const int64_t rows = 230, in = 300, outs = 150;
  const std::vector<float> spikes = Random(rows * in, rng, true);
  const std::vector<float> weights = Random(outs * in, rng, false);
  const std::vector<float> grad = Random(rows * outs, rng, true);
  std::vector<float> fwd(rows * outs), dgrad(rows * in), fgrad(outs * in);
  Gemm({.trans_b = true,
        .m = rows,
        .n = outs,
        .k = in,
        .a = spikes.data(),
        .lda = in,
        .b = weights.data(),
        .ldb = in,
        .c = fwd.data(),
        .ldc = outs});
  Gemm({.m = rows,
        .n = in,
        .k = outs,
        .a = grad.data(),
        .lda = outs,
        .b = weights.data(),
        .ldb = in,
        .c = dgrad.data(),
        .ldc = in});
  Gemm({.trans_a = true,
        .m = outs,
        .n = in,
        .k = rows,
        .a = grad.data(),
        .lda = outs,
        .b = spikes.data(),
        .ldb = in,
        .c = fgrad.data(),
        .ldc = in});
  Append(&out, fwd);
  Append(&out, dgrad);
  Append(&out, fgrad);
  SetSparseMode(SparseMode::kAuto);

  // Pooling over many planes.
  Pool2dShape ps;
  ps.n = 40;
  ps.c = 16;
  ps.h = ps.w = 14;
  ps.kh = ps.kw = 2;
  const std::vector<float> px = Random(ps.n * ps.c * ps.h * ps.w, rng, true);
  const std::vector<float> pdy = Random(ps.n * ps.c * 49, rng, false);
  for (const PoolType type : {PoolType::kAvg, PoolType::kMax, PoolType::kAdjustedAvg}) {
    std::vector<float> py(pdy.size()), pdx(px.size());
    Pool2dForward({ps, type, px.data(), py.data()});
    Pool2dBackward({ps, type, px.data(), py.data(), pdy.data(), pdx.data()});
    Append(&out, py);
    Append(&out, pdx);
  }

  // SumSquares over many blocks.
  const std::vector<float> big = Random(3000017, rng, false);
  double sum = 0;
  SumSquares({static_cast<int64_t>(big.size()), big.data(), &sum});
  Append(&out, &sum, sizeof(sum));
  return out;
}

// Helper run by ResultsDoNotDependOnThreadCount in a child process.
TEST(KernelThreadsTest, Dump) {
  const char* path = std::getenv(kDumpEnv);
  if (path == nullptr)
    GTEST_SKIP() << "runs only as a child of ResultsDoNotDependOnThreadCount";
  const std::string bytes = ComputeAll();
  std::ofstream file(path, std::ios::binary);
  file << NumThreads() << "\n" << bytes;
  ASSERT_TRUE(file.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

TEST(KernelThreadsTest, ResultsDoNotDependOnThreadCount) {
  if (std::getenv(kDumpEnv) != nullptr) GTEST_SKIP() << "inside a child run";
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(len, 0);
  self[len] = '\0';
  const std::string dir = testing::TempDir();
  std::vector<std::string> results;
  for (const int threads : {1, 2, 3}) {
    const std::string path = dir + "kernel_threads_" + std::to_string(getpid()) + "_" +
                             std::to_string(threads);
    const std::string command = "EDBP_NUM_THREADS=" + std::to_string(threads) + " " +
                                kDumpEnv + "='" + path + "' '" + self +
                                "' --gtest_filter=KernelThreadsTest.Dump >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::string content = ReadFile(path);
    std::remove(path.c_str());
    // The first line names the thread count the child really used.
    const size_t newline = content.find('\n');
    ASSERT_NE(newline, std::string::npos);
    EXPECT_EQ(content.substr(0, newline), std::to_string(threads));
    results.push_back(content.substr(newline + 1));
    ASSERT_GT(results.back().size(), 1000000u);
  }
  EXPECT_TRUE(results[0] == results[1]) << "1 vs 2 threads differ";
  EXPECT_TRUE(results[0] == results[2]) << "1 vs 3 threads differ";
}

}  // namespace
}  // namespace edbp::kernels::cpu

// Every op of kernels/ops.h on the CUDA backend against the CPU backend, on random
// shapes and values. Elementwise ops, the neuron, pooling, label injection, the count
// and kernel losses and the optimisers must agree bit for bit (the same float
// operations in the same order); ops that sum in another order (GEMM, convolutions,
// standardisation, TET, reductions) within 1e-5 of the tensor's scale, gradients
// within 1e-4 (ALGORITHM.md §12).
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/gpu/gpu_test.h"

#ifdef EDBP_TEST_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace edbp::gpu_test {
namespace {

using kernels::Conv2dShape;
using kernels::Pool2dShape;
using kernels::PoolType;

constexpr double kFloatTol = 1e-5;
constexpr double kGradTol = 1e-4;
constexpr int kTrials = 6;

#define EXPECT_OK(expr)                   \
  do {                                    \
    const absl::Status edbp_s_ = (expr);  \
    ASSERT_TRUE(edbp_s_.ok()) << edbp_s_; \
  } while (0)

TEST(GpuOps, Elementwise) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < kTrials; ++trial) {
    const int64_t n = Int(rng, 1, 300000);
    const std::vector<float> xa = Uniform(rng, n, -3, 3), xb = Uniform(rng, n, -3, 3);
    const float alpha = Uniform(rng, 1, -2, 2)[0];
    const std::string at = absl::StrCat(" n=", n);
    {
      Pair<float> out(n);
      EXPECT_OK(Cpu()->Fill({.n = n, .value = alpha, .out = out.cpu.get()}));
      EXPECT_OK(Cuda()->Fill({.n = n, .value = alpha, .out = out.cuda.get()}));
      ExpectIdentical(out.cpu.Download(), out.cuda.Download(), "Fill" + at);
    }
    {
      Pair<float> x(xa), out(n);
      EXPECT_OK(
          Cpu()->Scale({.n = n, .alpha = alpha, .x = x.cpu.get(), .out = out.cpu.get()}));
      EXPECT_OK(Cuda()->Scale(
          {.n = n, .alpha = alpha, .x = x.cuda.get(), .out = out.cuda.get()}));
      ExpectIdentical(out.cpu.Download(), out.cuda.Download(), "Scale" + at);
    }
    {
      Pair<float> a(xa), b(xb);  // out aliases a, as the layers use it
      EXPECT_OK(Cpu()->Mul({.n = n,
                            .alpha = 0.85f,
                            .a = a.cpu.get(),
                            .b = b.cpu.get(),
                            .out = a.cpu.get()}));
      EXPECT_OK(Cuda()->Mul({.n = n,
                             .alpha = 0.85f,
                             .a = a.cuda.get(),
                             .b = b.cuda.get(),
                             .out = a.cuda.get()}));
      ExpectIdentical(a.cpu.Download(), a.cuda.Download(), "Mul" + at);
    }
    {
      Pair<float> x(xa), y(xb);
      EXPECT_OK(
          Cpu()->Axpy({.n = n, .alpha = alpha, .x = x.cpu.get(), .y = y.cpu.get()}));
      EXPECT_OK(
          Cuda()->Axpy({.n = n, .alpha = alpha, .x = x.cuda.get(), .y = y.cuda.get()}));
      ExpectIdentical(y.cpu.Download(), y.cuda.Download(), "Axpy" + at);
    }
  }
}

#ifdef EDBP_TEST_HAVE_CUDA
// A non-sticky error that an earlier library call left pending must not fail the next
// launch (each launcher clears it before launching: kernel_util.cuh).
TEST(GpuOps, AnOlderPendingErrorDoesNotFailTheNextLaunch) {
  std::mt19937 rng(9);
  const int64_t n = 5000;
  Pair<float> x(Uniform(rng, n, -1, 1)), out(n);
  ASSERT_TRUE(kernels::PlantPendingCudaErrorForTesting());
  EXPECT_OK(Cuda()->Fill({.n = n, .value = 2.0f, .out = out.cuda.get()}));  // macro path
  ASSERT_TRUE(kernels::PlantPendingCudaErrorForTesting());
  kernels::ReduceStatsResult r;
  EXPECT_OK(Cuda()->ReduceStats({.n = n, .x = x.cuda.get(), .result = &r}));  // stats.cu
  const int64_t c_out = 5, m = n / c_out;
  Pair<float> g(std::vector<float>(c_out, 1.0f)), b(std::vector<float>(c_out, 0.0f));
  Pair<float> w_hat(n), mean(c_out), var(c_out);
  ASSERT_TRUE(kernels::PlantPendingCudaErrorForTesting());
  EXPECT_OK(Cuda()->WeightStdForward({.c_out = c_out,
                                      .m = m,
                                      .w = x.cuda.get(),
                                      .g = g.cuda.get(),
                                      .b = b.cuda.get(),
                                      .w_hat = w_hat.cuda.get(),
                                      .mean = mean.cuda.get(),
                                      .var = var.cuda.get()}));  // weight_std.cu
  EXPECT_EQ(out.cuda.Download(), std::vector<float>(n, 2.0f));
}
#endif  // EDBP_TEST_HAVE_CUDA

TEST(GpuOps, DropoutApply) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < kTrials; ++trial) {
    const int64_t steps = Int(rng, 1, 6), rows = Int(rng, 1, 200),
                  inner = Int(rng, 1, 300);
    std::vector<float> mask = Uniform(rng, rows, 0, 1);
    for (float& m : mask) m = m < 0.5f ? 0.0f : 2.0f;
    Pair<float> x(Uniform(rng, steps * rows * inner, -1, 1)), out(steps * rows * inner),
        m(mask);
    for (auto [backend, xp, mp, op] :
         {std::tuple{Cpu(), x.cpu.get(), m.cpu.get(), out.cpu.get()},
          std::tuple{Cuda(), x.cuda.get(), m.cuda.get(), out.cuda.get()}}) {
      EXPECT_OK(backend->DropoutApply({.steps = steps,
                                       .rows = rows,
                                       .inner = inner,
                                       .mask = mp,
                                       .x = xp,
                                       .out = op}));
    }
    ExpectIdentical(out.cpu.Download(), out.cuda.Download(),
                    absl::StrCat("DropoutApply ", steps, "x", rows, "x", inner));
  }
}

TEST(GpuOps, Reductions) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < kTrials; ++trial) {
    const int64_t n = trial == 0 ? 0 : Int(rng, 1, 2000000);
    Pair<float> x(Uniform(rng, n, -4, 4));
    double ss_cpu = -1, ss_cuda = -1;
    EXPECT_OK(Cpu()->SumSquares({.n = n, .x = x.cpu.get(), .result = &ss_cpu}));
    EXPECT_OK(Cuda()->SumSquares({.n = n, .x = x.cuda.get(), .result = &ss_cuda}));
    EXPECT_NEAR(ss_cuda, ss_cpu, 1e-12 * std::max(1.0, ss_cpu)) << "SumSquares n=" << n;
    kernels::ReduceStatsResult r_cpu, r_cuda;
    EXPECT_OK(Cpu()->ReduceStats({.n = n, .x = x.cpu.get(), .result = &r_cpu}));
    EXPECT_OK(Cuda()->ReduceStats({.n = n, .x = x.cuda.get(), .result = &r_cuda}));
    EXPECT_NEAR(r_cuda.sum, r_cpu.sum, 1e-12 * std::max(1.0, r_cpu.sum_sq)) << "n=" << n;
    EXPECT_NEAR(r_cuda.sum_sq, r_cpu.sum_sq, 1e-12 * std::max(1.0, r_cpu.sum_sq));
    EXPECT_EQ(r_cuda.max_abs, r_cpu.max_abs) << "n=" << n;
  }
}

TEST(GpuOps, SpikeCount) {
  std::mt19937 rng(4);
  for (int trial = 0; trial < kTrials; ++trial) {
    const int64_t rows = Int(rng, 1, 300), neurons = Int(rng, 1, 5000);
    std::vector<float> o = Uniform(rng, rows * neurons, 0, 1);
    for (float& v : o) v = v < 0.2f ? 1.0f : 0.0f;
    Pair<float> spikes(o), counts(Uniform(rng, neurons, 0, 10));
    EXPECT_OK(Cpu()->SpikeCount({.rows = rows,
                                 .neurons = neurons,
                                 .o = spikes.cpu.get(),
                                 .counts = counts.cpu.get()}));
    EXPECT_OK(Cuda()->SpikeCount({.rows = rows,
                                  .neurons = neurons,
                                  .o = spikes.cuda.get(),
                                  .counts = counts.cuda.get()}));
    ExpectIdentical(counts.cpu.Download(), counts.cuda.Download(), "SpikeCount");
  }
}

TEST(GpuOps, Gemm) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 4 * kTrials; ++trial) {
    kernels::GemmArgs g;
    g.trans_a = trial & 1;
    g.trans_b = (trial >> 1) & 1;
    g.m = Int(rng, 1, 400);
    g.n = Int(rng, 1, 400);
    g.k = Int(rng, 1, 700);
    g.alpha = trial % 3 == 0 ? 1.0f : 0.7f;
    g.beta = trial % 4 == 0 ? 0.5f : 0.0f;
    g.lda = (g.trans_a ? g.m : g.k) + Int(rng, 0, 3);
    g.ldb = (g.trans_b ? g.k : g.n) + Int(rng, 0, 3);
    g.ldc = g.n + Int(rng, 0, 3);
    const int64_t a_rows = g.trans_a ? g.k : g.m, b_rows = g.trans_b ? g.n : g.k;
    Pair<float> a(Uniform(rng, a_rows * g.lda, -1, 1)),
        b(Uniform(rng, b_rows * g.ldb, -1, 1)), c(Uniform(rng, g.m * g.ldc, -1, 1));
    kernels::GemmArgs gc = g, gg = g;
    gc.a = a.cpu.get(), gc.b = b.cpu.get(), gc.c = c.cpu.get();
    gg.a = a.cuda.get(), gg.b = b.cuda.get(), gg.c = c.cuda.get();
    EXPECT_OK(Cpu()->Gemm(gc));
    EXPECT_OK(Cuda()->Gemm(gg));
    ExpectClose(c.cpu.Download(), c.cuda.Download(), kFloatTol,
                absl::StrCat("Gemm ta=", g.trans_a, " tb=", g.trans_b, " m=", g.m,
                             " n=", g.n, " k=", g.k));
  }
}

kernels::NeuronParams RandomParams(std::mt19937& rng, int trial) {
  kernels::NeuronParams p;
  const float tau_m = static_cast<float>(Int(rng, 2, 8));
  const float tau_s = tau_m == 2 ? 4.0f : 2.0f;
  p.theta_m = 1.0f / tau_m;
  p.theta_s = 1.0f / tau_s;
  p.theta_grad = 1.0f / static_cast<float>(Int(rng, 2, 6));
  p.threshold = 1.0f;
  p.leaky = trial % 3 != 2;
  p.exponential = trial % 3 != 1;  // nonleaky needs exponential (§1)
  return p;
}

TEST(GpuOps, NeuronForwardAndBackwardBitIdentical) {
  std::mt19937 rng(6);
  for (int trial = 0; trial < kTrials; ++trial) {
    const int64_t steps = Int(rng, 1, 12), n = Int(rng, 1, 70000);
    const kernels::NeuronParams p = RandomParams(rng, trial);
    const std::string at = absl::StrCat(" T=", steps, " n=", n, " leaky=", p.leaky,
                                        " exponential=", p.exponential);
    Pair<float> in(Uniform(rng, steps * n, -1.0f, 3.0f)), du(steps * n), du_t(steps * n),
        o(steps * n), count(n);
    EXPECT_OK(Cpu()->NeuronForward({.steps = steps,
                                    .n = n,
                                    .params = p,
                                    .input = in.cpu.get(),
                                    .du = du.cpu.get(),
                                    .du_t = du_t.cpu.get(),
                                    .o = o.cpu.get(),
                                    .spike_count = count.cpu.get()}));
    EXPECT_OK(Cuda()->NeuronForward({.steps = steps,
                                     .n = n,
                                     .params = p,
                                     .input = in.cuda.get(),
                                     .du = du.cuda.get(),
                                     .du_t = du_t.cuda.get(),
                                     .o = o.cuda.get(),
                                     .spike_count = count.cuda.get()}));
    const std::vector<float> spikes = o.cpu.Download();
    ExpectIdentical(spikes, o.cuda.Download(), "spikes" + at);
    ExpectIdentical(du.cpu.Download(), du.cuda.Download(), "du" + at);
    ExpectIdentical(du_t.cpu.Download(), du_t.cuda.Download(), "du_t" + at);
    ExpectIdentical(count.cpu.Download(), count.cuda.Download(), "spike counts" + at);
    int64_t fired = 0;
    for (float s : spikes) fired += s != 0;
    EXPECT_GT(fired, 0) << "the input should make neurons fire" << at;
    EXPECT_LT(fired, steps * n) << at;

    // Backward on the forward's own outputs (as the layers call it): e = dL/do ⊙ o.
    std::vector<float> e = Uniform(rng, steps * n, -1, 1);
    for (size_t i = 0; i < e.size(); ++i) e[i] *= spikes[i];
    std::vector<float> syn_a(steps + 1), partial_a(steps + 1);
    for (int64_t k = 0; k < steps; ++k) {
      syn_a[k] = std::pow(0.8f, static_cast<float>(k + 1));
      partial_a[k] = -std::pow(0.7f, static_cast<float>(k + 1));
    }
    Pair<float> ge(e), gsyn(syn_a), gpart(partial_a), gw(steps * n), gin(steps * n),
        gsum(n);
    const float max_dudt_inv = trial % 2 ? 123456792.0f : 10.0f;
    EXPECT_OK(Cpu()->NeuronBackward({.steps = steps,
                                     .n = n,
                                     .max_dudt_inv = max_dudt_inv,
                                     .e = ge.cpu.get(),
                                     .o = o.cpu.get(),
                                     .du = du.cpu.get(),
                                     .du_t = du_t.cpu.get(),
                                     .syn_a = gsyn.cpu.get(),
                                     .partial_a = gpart.cpu.get(),
                                     .grad_w = gw.cpu.get(),
                                     .grad_in = gin.cpu.get(),
                                     .grad_w_sum = gsum.cpu.get()}));
    EXPECT_OK(Cuda()->NeuronBackward({.steps = steps,
                                      .n = n,
                                      .max_dudt_inv = max_dudt_inv,
                                      .e = ge.cuda.get(),
                                      .o = o.cuda.get(),
                                      .du = du.cuda.get(),
                                      .du_t = du_t.cuda.get(),
                                      .syn_a = gsyn.cuda.get(),
                                      .partial_a = gpart.cuda.get(),
                                      .grad_w = gw.cuda.get(),
                                      .grad_in = gin.cuda.get(),
                                      .grad_w_sum = gsum.cuda.get()}));
    ExpectIdentical(gw.cpu.Download(), gw.cuda.Download(), "grad_w" + at);
    ExpectIdentical(gsum.cpu.Download(), gsum.cuda.Download(), "grad_w_sum" + at);
    ExpectIdentical(gin.cpu.Download(), gin.cuda.Download(), "grad_in" + at);
  }
}

Conv2dShape RandomConv(std::mt19937& rng) {
  Conv2dShape s;
  s.n = Int(rng, 1, 12);
  s.c_in = Int(rng, 1, 24);
  s.c_out = Int(rng, 1, 40);
  s.kh = Int(rng, 1, 5);
  s.kw = Int(rng, 1, 5);
  s.stride_h = Int(rng, 1, 2);
  s.stride_w = Int(rng, 1, 2);
  s.pad_h = Int(rng, 0, s.kh / 2 + 1);
  s.pad_w = Int(rng, 0, s.kw / 2 + 1);
  s.dil_h = Int(rng, 1, 2);
  s.dil_w = Int(rng, 1, 2);
  s.h = Int(rng, s.dil_h * (s.kh - 1) + 1, 30);
  s.w = Int(rng, s.dil_w * (s.kw - 1) + 1, 30);
  return s;
}

std::string ToString(const Conv2dShape& s) {
  return absl::StrCat(" n=", s.n, " c_in=", s.c_in, " ", s.h, "x", s.w,
                      " c_out=", s.c_out, " k=", s.kh, "x", s.kw, " stride=", s.stride_h,
                      ",", s.stride_w, " pad=", s.pad_h, ",", s.pad_w, " dil=", s.dil_h,
                      ",", s.dil_w);
}

TEST(GpuOps, Conv2dForwardAndBackward) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3 * kTrials; ++trial) {
    Conv2dShape s = RandomConv(rng);
    if (trial == 0)
      s = {.n = 50,
           .c_in = 1,
           .h = 28,
           .w = 28,
           .c_out = 32,
           .kh = 5,
           .kw = 5,
           .pad_h = 2,
           .pad_w = 2};  // conv_1 of the Fashion-MNIST net
    const int64_t x_n = s.n * s.c_in * s.h * s.w, w_n = s.c_out * s.c_in * s.kh * s.kw;
    const int64_t y_n = s.n * s.c_out * s.out_h() * s.out_w();
    std::vector<float> spikes =
        Uniform(rng, x_n, 0, 1);  // spike-like inputs below layer 1
    if (trial % 2)
      for (float& v : spikes) v = v < 0.3f ? 1.0f : 0.0f;
    Pair<float> x(spikes), w(Uniform(rng, w_n, -1, 1)), y(y_n),
        dy(Uniform(rng, y_n, -1, 1)), dx(x_n), dw(w_n);
    EXPECT_OK(Cpu()->Conv2dForward(
        {.shape = s, .x = x.cpu.get(), .w = w.cpu.get(), .y = y.cpu.get()}));
    EXPECT_OK(Cuda()->Conv2dForward(
        {.shape = s, .x = x.cuda.get(), .w = w.cuda.get(), .y = y.cuda.get()}));
    ExpectClose(y.cpu.Download(), y.cuda.Download(), kFloatTol,
                "Conv2dForward" + ToString(s));
    EXPECT_OK(Cpu()->Conv2dBackwardData(
        {.shape = s, .dy = dy.cpu.get(), .w = w.cpu.get(), .dx = dx.cpu.get()}));
    EXPECT_OK(Cuda()->Conv2dBackwardData(
        {.shape = s, .dy = dy.cuda.get(), .w = w.cuda.get(), .dx = dx.cuda.get()}));
    ExpectClose(dx.cpu.Download(), dx.cuda.Download(), kGradTol,
                "Conv2dBackwardData" + ToString(s));
    EXPECT_OK(Cpu()->Conv2dBackwardFilter(
        {.shape = s, .x = x.cpu.get(), .dy = dy.cpu.get(), .dw = dw.cpu.get()}));
    EXPECT_OK(Cuda()->Conv2dBackwardFilter(
        {.shape = s, .x = x.cuda.get(), .dy = dy.cuda.get(), .dw = dw.cuda.get()}));
    ExpectClose(dw.cpu.Download(), dw.cuda.Download(), kGradTol,
                "Conv2dBackwardFilter" + ToString(s));
  }
}

TEST(GpuOps, Pool2dAllTypesBitIdentical) {
  std::mt19937 rng(8);
  for (int trial = 0; trial < 3 * kTrials; ++trial) {
    const PoolType type = static_cast<PoolType>(trial % 3);
    Pool2dShape s;
    s.n = Int(rng, 1, 20);
    s.c = Int(rng, 1, 16);
    s.kh = Int(rng, 1, 4);
    s.kw = Int(rng, 1, 4);
    s.h = Int(rng, s.kh, 29);  // often not a multiple of the kernel (§5 edges)
    s.w = Int(rng, s.kw, 29);
    const int64_t x_n = s.n * s.c * s.h * s.w, y_n = s.n * s.c * s.out_h() * s.out_w();
    std::vector<float> xv = Uniform(rng, x_n, -1, 1);
    if (type == PoolType::kAdjustedAvg) {  // spikes, so windows hold 0..k² of them
      for (float& v : xv) v = v < 0.0f ? 1.0f : 0.0f;
    }
    const std::string at = absl::StrCat(" type=", static_cast<int>(type), " ", s.n, "x",
                                        s.c, "x", s.h, "x", s.w, " k=", s.kh, "x", s.kw);
    Pair<float> x(xv), y(y_n), dy(Uniform(rng, y_n, -1, 1)), dx(x_n);
    EXPECT_OK(Cpu()->Pool2dForward(
        {.shape = s, .type = type, .x = x.cpu.get(), .y = y.cpu.get()}));
    EXPECT_OK(Cuda()->Pool2dForward(
        {.shape = s, .type = type, .x = x.cuda.get(), .y = y.cuda.get()}));
    ExpectIdentical(y.cpu.Download(), y.cuda.Download(), "Pool2dForward" + at);
    EXPECT_OK(Cpu()->Pool2dBackward({.shape = s,
                                     .type = type,
                                     .x = x.cpu.get(),
                                     .y = y.cpu.get(),
                                     .dy = dy.cpu.get(),
                                     .dx = dx.cpu.get()}));
    EXPECT_OK(Cuda()->Pool2dBackward({.shape = s,
                                      .type = type,
                                      .x = x.cuda.get(),
                                      .y = y.cuda.get(),
                                      .dy = dy.cuda.get(),
                                      .dx = dx.cuda.get()}));
    ExpectIdentical(dx.cpu.Download(), dx.cuda.Download(), "Pool2dBackward" + at);
  }
}

TEST(GpuOps, WeightStandardisation) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 2 * kTrials; ++trial) {
    const int64_t c_out = Int(rng, 1, 130), m = Int(rng, 2, 5000);
    const bool exact = trial % 2;
    const std::string at = absl::StrCat(" c_out=", c_out, " m=", m, " exact=", exact);
    const float bound = 1.0f / std::sqrt(static_cast<float>(m));  // the §4 init range
    Pair<float> w(Uniform(rng, c_out * m, -bound, bound)),
        g(Uniform(rng, c_out, 0.5f, 3)), b(Uniform(rng, c_out, -0.2f, 0.2f)),
        w_hat(c_out * m), mean(c_out), var(c_out);
    EXPECT_OK(Cpu()->WeightStdForward({.c_out = c_out,
                                       .m = m,
                                       .w = w.cpu.get(),
                                       .g = g.cpu.get(),
                                       .b = b.cpu.get(),
                                       .w_hat = w_hat.cpu.get(),
                                       .mean = mean.cpu.get(),
                                       .var = var.cpu.get()}));
    EXPECT_OK(Cuda()->WeightStdForward({.c_out = c_out,
                                        .m = m,
                                        .w = w.cuda.get(),
                                        .g = g.cuda.get(),
                                        .b = b.cuda.get(),
                                        .w_hat = w_hat.cuda.get(),
                                        .mean = mean.cuda.get(),
                                        .var = var.cuda.get()}));
    ExpectClose(w_hat.cpu.Download(), w_hat.cuda.Download(), kFloatTol, "w_hat" + at);
    ExpectClose(mean.cpu.Download(), mean.cuda.Download(), kFloatTol, "mean" + at);
    ExpectClose(var.cpu.Download(), var.cuda.Download(), kFloatTol, "var" + at);

    Pair<float> grad(Uniform(rng, c_out * m, -1, 1)), gw(c_out * m), gg(c_out), gb(c_out);
    EXPECT_OK(Cpu()->WeightStdBackward({.c_out = c_out,
                                        .m = m,
                                        .exact = exact,
                                        .grad_w_hat = grad.cpu.get(),
                                        .w = w.cpu.get(),
                                        .g = g.cpu.get(),
                                        .b = b.cpu.get(),
                                        .mean = mean.cpu.get(),
                                        .var = var.cpu.get(),
                                        .grad_w = gw.cpu.get(),
                                        .grad_g = gg.cpu.get(),
                                        .grad_b = gb.cpu.get()}));
    // The CUDA backward reads the CPU's mean and var so that only the backward differs.
    Pair<float> mean_ref(mean.cpu.Download()), var_ref(var.cpu.Download());
    EXPECT_OK(Cuda()->WeightStdBackward({.c_out = c_out,
                                         .m = m,
                                         .exact = exact,
                                         .grad_w_hat = grad.cuda.get(),
                                         .w = w.cuda.get(),
                                         .g = g.cuda.get(),
                                         .b = b.cuda.get(),
                                         .mean = mean_ref.cuda.get(),
                                         .var = var_ref.cuda.get(),
                                         .grad_w = gw.cuda.get(),
                                         .grad_g = gg.cuda.get(),
                                         .grad_b = gb.cuda.get()}));
    ExpectClose(gw.cpu.Download(), gw.cuda.Download(), kGradTol, "grad_w" + at);
    ExpectClose(gg.cpu.Download(), gg.cuda.Download(), kGradTol, "grad_g" + at);
    ExpectClose(gb.cpu.Download(), gb.cuda.Download(), kGradTol, "grad_b" + at);
    // In place (grad_w == grad_w_hat, as the layers call it): the same bits.
    Pair<float> in_place(grad.cpu.Download()), gg2(c_out), gb2(c_out);
    EXPECT_OK(Cuda()->WeightStdBackward({.c_out = c_out,
                                         .m = m,
                                         .exact = exact,
                                         .grad_w_hat = in_place.cuda.get(),
                                         .w = w.cuda.get(),
                                         .g = g.cuda.get(),
                                         .b = b.cuda.get(),
                                         .mean = mean_ref.cuda.get(),
                                         .var = var_ref.cuda.get(),
                                         .grad_w = in_place.cuda.get(),
                                         .grad_g = gg2.cuda.get(),
                                         .grad_b = gb2.cuda.get()}));
    ExpectIdentical(in_place.cuda.Download(), gw.cuda.Download(), "in-place grad_w" + at);
  }
}

struct LossCase {
  int64_t steps, batch, classes;
  std::vector<float> o;
  std::vector<int32_t> labels;
};

LossCase RandomLossCase(std::mt19937& rng) {
  LossCase c;
  c.steps = Int(rng, 1, 10);
  c.batch = Int(rng, 1, 130);
  c.classes = Int(rng, 2, 100);
  c.o = Uniform(rng, c.steps * c.batch * c.classes, 0, 1);
  for (float& v : c.o) v = v < 0.3f ? 1.0f : 0.0f;
  for (int64_t b = 0; b < c.batch; ++b) {
    c.labels.push_back(static_cast<int32_t>(Int(rng, 0, c.classes - 1)));
  }
  return c;
}

TEST(GpuOps, LabelInjectBitIdentical) {
  std::mt19937 rng(10);
  for (int trial = 0; trial < kTrials; ++trial) {
    LossCase c = RandomLossCase(rng);
    std::vector<float> du = Uniform(rng, c.o.size(), -0.2f, 0.3f);
    for (size_t i = 0; i < du.size(); i += 7) du[i] = 0;  // du == 0 → injected 0
    Pair<float> gdu(du), o(c.o);
    Pair<int32_t> labels(c.labels);
    for (auto [backend, dup, lp, op] :
         {std::tuple{Cpu(), gdu.cpu.get(), labels.cpu.get(), o.cpu.get()},
          std::tuple{Cuda(), gdu.cuda.get(), labels.cuda.get(), o.cuda.get()}}) {
      EXPECT_OK(backend->LabelInject({.steps = c.steps,
                                      .batch = c.batch,
                                      .classes = c.classes,
                                      .du = dup,
                                      .labels = lp,
                                      .o = op}));
    }
    ExpectIdentical(o.cpu.Download(), o.cuda.Download(), "LabelInject");
  }
}

TEST(GpuOps, LabelInjectRejectsABadLabelWithAStatus) {
  if (Cuda() == Cpu()) GTEST_SKIP() << "CUDA-only behaviour (EDBP_GPU_TEST_CPU_AS_CUDA)";
  Buffer<float> du(Cuda(), std::vector<float>(2 * 2 * 3, 0.1f)), o(Cuda(), 2 * 2 * 3);
  Buffer<int32_t> labels(Cuda(), std::vector<int32_t>{0, 7});
  const absl::Status s = Cuda()->LabelInject({.steps = 2,
                                              .batch = 2,
                                              .classes = 3,
                                              .du = du.get(),
                                              .labels = labels.get(),
                                              .o = o.get()});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST(GpuOps, CountAndKernelLossBitIdentical) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < kTrials; ++trial) {
    LossCase c = RandomLossCase(rng);
    const std::string at = absl::StrCat(" T=", c.steps, " B=", c.batch, " C=", c.classes);
    if (trial == 0) c.labels[0] = -1;  // matches no class, never read out of bounds
    Pair<float> o(c.o), grad(c.o.size());
    Pair<int32_t> labels(c.labels);
    double loss_cpu = -1, loss_cuda = -2;
    EXPECT_OK(Cpu()->CountLoss({.steps = c.steps,
                                .batch = c.batch,
                                .classes = c.classes,
                                .desired = 4,
                                .undesired = 1,
                                .sign = -1,
                                .o = o.cpu.get(),
                                .labels = labels.cpu.get(),
                                .grad = grad.cpu.get(),
                                .loss = &loss_cpu}));
    EXPECT_OK(Cuda()->CountLoss({.steps = c.steps,
                                 .batch = c.batch,
                                 .classes = c.classes,
                                 .desired = 4,
                                 .undesired = 1,
                                 .sign = -1,
                                 .o = o.cuda.get(),
                                 .labels = labels.cuda.get(),
                                 .grad = grad.cuda.get(),
                                 .loss = &loss_cuda}));
    ExpectIdentical(grad.cpu.Download(), grad.cuda.Download(), "CountLoss grad" + at);
    EXPECT_EQ(loss_cpu, loss_cuda) << "CountLoss" << at;

    std::vector<float> target(c.steps);
    for (int64_t t = 0; t < c.steps; ++t) target[t] = t >= 1 ? 1.0f : 0.0f;
    Pair<float> tg(target);
    EXPECT_OK(Cpu()->KernelLoss({.steps = c.steps,
                                 .batch = c.batch,
                                 .classes = c.classes,
                                 .tau_s = 5,
                                 .sign = -1,
                                 .target = tg.cpu.get(),
                                 .o = o.cpu.get(),
                                 .labels = labels.cpu.get(),
                                 .grad = grad.cpu.get(),
                                 .loss = &loss_cpu}));
    EXPECT_OK(Cuda()->KernelLoss({.steps = c.steps,
                                  .batch = c.batch,
                                  .classes = c.classes,
                                  .tau_s = 5,
                                  .sign = -1,
                                  .target = tg.cuda.get(),
                                  .o = o.cuda.get(),
                                  .labels = labels.cuda.get(),
                                  .grad = grad.cuda.get(),
                                  .loss = &loss_cuda}));
    ExpectIdentical(grad.cpu.Download(), grad.cuda.Download(), "KernelLoss grad" + at);
    EXPECT_EQ(loss_cpu, loss_cuda) << "KernelLoss" << at;
  }
}

TEST(GpuOps, TetLoss) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < kTrials; ++trial) {
    LossCase c = RandomLossCase(rng);
    Pair<float> o(c.o), grad(c.o.size());
    Pair<int32_t> labels(c.labels);
    double loss_cpu = -1, loss_cuda = -2;
    EXPECT_OK(Cpu()->TetLoss({.steps = c.steps,
                              .batch = c.batch,
                              .classes = c.classes,
                              .sign = -1,
                              .o = o.cpu.get(),
                              .labels = labels.cpu.get(),
                              .grad = grad.cpu.get(),
                              .loss = &loss_cpu}));
    EXPECT_OK(Cuda()->TetLoss({.steps = c.steps,
                               .batch = c.batch,
                               .classes = c.classes,
                               .sign = -1,
                               .o = o.cuda.get(),
                               .labels = labels.cuda.get(),
                               .grad = grad.cuda.get(),
                               .loss = &loss_cuda}));
    ExpectClose(grad.cpu.Download(), grad.cuda.Download(), kGradTol, "TetLoss grad");
    EXPECT_NEAR(loss_cuda, loss_cpu, 1e-12 * std::max(1.0, loss_cpu));
  }
}

TEST(GpuOps, OptimiserStepsBitIdentical) {
  std::mt19937 rng(13);
  for (int trial = 0; trial < kTrials; ++trial) {
    const int64_t n = Int(rng, 1, 200000);
    const double lr = 5e-4 * (trial + 1), wd = trial % 2 ? 1e-4 : 0.0;
    const std::vector<float> p0 = Uniform(rng, n, -1, 1),
                             g0 = Uniform(rng, n, -0.1f, 0.1f);
    Pair<float> p(p0), grad(g0);
    EXPECT_OK(Cpu()->SgdStep({.n = n,
                              .lr = lr,
                              .weight_decay = wd,
                              .param = p.cpu.get(),
                              .grad = grad.cpu.get()}));
    EXPECT_OK(Cuda()->SgdStep({.n = n,
                               .lr = lr,
                               .weight_decay = wd,
                               .param = p.cuda.get(),
                               .grad = grad.cuda.get()}));
    ExpectIdentical(p.cpu.Download(), p.cuda.Download(), "SgdStep");

    Pair<float> q(p0), m(Uniform(rng, n, -0.01f, 0.01f)), v(Uniform(rng, n, 0, 1e-4f));
    for (int64_t step = 1; step <= 3; ++step) {
      const bool decoupled = trial % 3 == 0;
      EXPECT_OK(Cpu()->AdamStep({.n = n,
                                 .lr = lr,
                                 .weight_decay = wd,
                                 .decoupled = decoupled,
                                 .step = step,
                                 .param = q.cpu.get(),
                                 .grad = grad.cpu.get(),
                                 .exp_avg = m.cpu.get(),
                                 .exp_avg_sq = v.cpu.get()}));
      EXPECT_OK(Cuda()->AdamStep({.n = n,
                                  .lr = lr,
                                  .weight_decay = wd,
                                  .decoupled = decoupled,
                                  .step = step,
                                  .param = q.cuda.get(),
                                  .grad = grad.cuda.get(),
                                  .exp_avg = m.cuda.get(),
                                  .exp_avg_sq = v.cuda.get()}));
    }
    ExpectIdentical(q.cpu.Download(), q.cuda.Download(), "AdamStep param");
    ExpectIdentical(m.cpu.Download(), m.cuda.Download(), "AdamStep exp_avg");
    ExpectIdentical(v.cpu.Download(), v.cuda.Download(), "AdamStep exp_avg_sq");
  }
}

TEST(GpuBackend, FailedAllocationIsAStatusNamingTheCall) {
  if (Cuda() == Cpu()) GTEST_SKIP() << "CUDA-only behaviour (EDBP_GPU_TEST_CPU_AS_CUDA)";
  const absl::StatusOr<void*> p = Cuda()->Allocate(size_t{1} << 52);  // 4 PiB
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted) << p.status();
  EXPECT_NE(p.status().message().find("cudaMalloc"), absl::string_view::npos)
      << p.status();
  EXPECT_NE(p.status().message().find("device_allocator.cc"), absl::string_view::npos);
  // The backend still works afterwards.
  Buffer<float> ok(Cuda(), std::vector<float>{1, 2, 3});
  EXPECT_EQ(ok.Download(), (std::vector<float>{1, 2, 3}));
}

TEST(GpuBackend, CopiesRoundTripAndSupportsEveryOp) {
  for (int op = 0; op < static_cast<int>(kernels::Op::kNumOps); ++op) {
    EXPECT_TRUE(Cuda()->Supports(static_cast<kernels::Op>(op)))
        << kernels::OpName(static_cast<kernels::Op>(op));
  }
  std::mt19937 rng(14);
  const std::vector<float> host = Uniform(rng, 100001, -1, 1);
  Buffer<float> a(Cuda(), host), b(Cuda(), host.size());
  EXPECT_TRUE(Cuda()->CopyDeviceToDevice(b.get(), a.get(), host.size() * 4).ok());
  EXPECT_TRUE(Cuda()->Synchronize().ok());
  ExpectIdentical(host, b.Download(), "round trip");
}

}  // namespace
}  // namespace edbp::gpu_test

// The vectorised neuron kernels (kernels/cpu/neuron.cc) against a plain scalar
// transcription of ALGORITHM.md §2/§3, on many neurons: every output must be
// bit-identical (same float operations in the same order), for widths that fill whole
// vector blocks, leave a scalar tail, or have only a tail.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {
namespace {

using Floats = std::vector<float>;

// §2, one neuron at a time, written straight from the text.
void ForwardReference(const NeuronForwardArgs& a) {
  const NeuronParams& p = a.params;
  for (int64_t i = 0; i < a.n; ++i) {
    float m = 0, s = 0, g = 0, u_prev = 0;
    for (int64_t t = 0; t < a.steps; ++t) {
      const int64_t idx = t * a.n + i;
      const float in = a.input[idx];
      m = (m + in) * (1.0f - p.theta_m);
      s = (s + in) * (1.0f - p.theta_s);
      g = (g + in) * (1.0f - p.theta_grad);
      float u;
      if (p.leaky) {
        u = ((m - s) * p.theta_s) / (p.theta_s - p.theta_m);
        a.du[idx] = u - u_prev;
        a.du_t[idx] = p.exponential ? g : a.du[idx];
      } else {
        a.du_t[idx] = g;
        u = u_prev + g;
        a.du[idx] = g;
      }
      a.o[idx] = u >= p.threshold ? 1.0f : 0.0f;
      if (a.o[idx] != 0) {
        u_prev = m = s = g = 0;
      } else {
        u_prev = u;
      }
    }
  }
}

// §3, one neuron at a time.
void BackwardReference(const NeuronBackwardArgs& a) {
  for (int64_t i = 0; i < a.n; ++i) {
    bool spiked = false;
    float gw = 0, gt = 0;
    int64_t k = 0;
    for (int64_t t = a.steps - 1; t >= 0; --t) {
      const int64_t idx = t * a.n + i;
      const bool out = a.o[idx] != 0;
      spiked = spiked || out;
      if (out) {
        gw = a.e[idx] * std::clamp(-1.0f / a.du[idx], -4.0f, 0.0f);
        gt = a.e[idx] * std::clamp(-1.0f / a.du_t[idx], -a.max_dudt_inv, 0.0f);
        k = 0;
      } else {
        k = std::min(k + 1, a.steps);
      }
      a.grad_w[idx] = spiked ? gw * a.syn_a[k] : 0.0f;
      a.grad_in[idx] = spiked ? gt * a.partial_a[k] : 0.0f;
    }
  }
}

// Bitwise equality, so that -0 vs +0 and NaN payloads count too.
::testing::AssertionResult SameBits(const Floats& got, const Floats& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i])) {
      return ::testing::AssertionFailure()
             << "index " << i << ": got " << got[i] << ", want " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

struct Case {
  bool leaky;
  bool exponential;
};

class NeuronKernelTest : public ::testing::TestWithParam<Case> {};

TEST_P(NeuronKernelTest, VectorBlocksMatchScalarRecurrenceBitForBit) {
  const Case c = GetParam();
  NeuronParams params{.theta_m = 1.0f / 5,
                      .theta_s = 1.0f / 3,
                      .theta_grad = 1.0f / 5,
                      .threshold = 1.0f,
                      .leaky = c.leaky,
                      .exponential = c.exponential};
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> current(-0.5f, 2.0f);
  std::bernoulli_distribution silent(0.3);
  // T = 5 keeps the kernel tables in one vector (lane permutation); T = 20 does not.
  for (const auto& [n, steps] : {std::pair<int64_t, int64_t>{1, 5},
                                 {15, 5},
                                 {16, 5},
                                 {17, 5},
                                 {48, 5},
                                 {1000, 5},
                                 {4099, 5},
                                 {40, 20},
                                 {333, 20}}) {
    const size_t size = static_cast<size_t>(steps * n);
    Floats input(size);
    for (float& v : input) v = silent(rng) ? 0.0f : current(rng);
    Floats du(size), du_t(size), o(size), du_ref(size), du_t_ref(size), o_ref(size);
    NeuronForwardArgs fwd{.steps = steps,
                          .n = n,
                          .params = params,
                          .input = input.data(),
                          .du = du.data(),
                          .du_t = du_t.data(),
                          .o = o.data()};
    NeuronForward(fwd);
    NeuronForwardArgs ref = fwd;
    ref.du = du_ref.data();
    ref.du_t = du_t_ref.data();
    ref.o = o_ref.data();
    ForwardReference(ref);
    EXPECT_TRUE(SameBits(o, o_ref)) << "n=" << n;
    EXPECT_TRUE(SameBits(du, du_ref)) << "n=" << n;
    EXPECT_TRUE(SameBits(du_t, du_t_ref)) << "n=" << n;
    // Without du and du_t (no backward follows): the same spikes.
    Floats o_only(size, -1.0f);
    NeuronForwardArgs spikes_only = fwd;
    spikes_only.du = spikes_only.du_t = nullptr;
    spikes_only.o = o_only.data();
    NeuronForward(spikes_only);
    EXPECT_TRUE(SameBits(o_only, o_ref)) << "spikes only, n=" << n;
    // Without du_t (the first layer): the same du and spikes.
    Floats du_no_t(size, -1.0f), o_no_t(size, -1.0f);
    NeuronForwardArgs no_du_t = fwd;
    no_du_t.du = du_no_t.data();
    no_du_t.du_t = nullptr;
    no_du_t.o = o_no_t.data();
    NeuronForward(no_du_t);
    EXPECT_TRUE(SameBits(o_no_t, o_ref)) << "without du_t, n=" << n;
    EXPECT_TRUE(SameBits(du_no_t, du_ref)) << "without du_t, n=" << n;
    // Spike counts over the steps, with every combination of the other outputs: Σ_t o,
    // and the same o, du and du_t as without them.
    {
      Floats count_ref(static_cast<size_t>(n), 0.0f);
      for (int64_t t = 0; t < steps; ++t) {
        for (int64_t i = 0; i < n; ++i) count_ref[i] += o_ref[t * n + i];
      }
      for (int outputs = 0; outputs < 3; ++outputs) {
        Floats count(static_cast<size_t>(n), -1.0f), c_o(size, -1.0f), c_du(size, -1.0f),
            c_du_t(size, -1.0f);
        NeuronForwardArgs counted = fwd;
        counted.o = c_o.data();
        counted.du = outputs >= 1 ? c_du.data() : nullptr;
        counted.du_t = outputs == 2 ? c_du_t.data() : nullptr;
        counted.spike_count = count.data();
        NeuronForward(counted);
        EXPECT_TRUE(SameBits(count, count_ref))
            << "spike counts, n=" << n << " " << outputs;
        EXPECT_TRUE(SameBits(c_o, o_ref)) << "with spike counts, n=" << n;
        if (outputs >= 1) {
          EXPECT_TRUE(SameBits(c_du, du_ref)) << "with counts, n=" << n;
        }
        if (outputs == 2) {
          EXPECT_TRUE(SameBits(c_du_t, du_t_ref)) << "with counts, n=" << n;
        }
      }
    }
    // A static input (one step of current read at every step) gives the bits of the
    // same current repeated T times.
    {
      Floats repeated(size), s_du(size), s_du_t(size), s_o(size), r_du(size),
          r_du_t(size), r_o(size);
      for (int64_t t = 0; t < steps; ++t) {
        std::copy(input.begin(), input.begin() + n, repeated.begin() + t * n);
      }
      NeuronForwardArgs once = fwd;
      once.static_input = true;
      once.du = s_du.data();
      once.du_t = s_du_t.data();
      once.o = s_o.data();
      NeuronForward(once);
      NeuronForwardArgs full = fwd;
      full.input = repeated.data();
      full.du = r_du.data();
      full.du_t = r_du_t.data();
      full.o = r_o.data();
      NeuronForward(full);
      EXPECT_TRUE(SameBits(s_o, r_o)) << "static input, n=" << n;
      EXPECT_TRUE(SameBits(s_du, r_du)) << "static input, n=" << n;
      EXPECT_TRUE(SameBits(s_du_t, r_du_t)) << "static input, n=" << n;
    }
    const float spikes = std::count(o.begin(), o.end(), 1.0f);
    EXPECT_GT(spikes, 0) << "the inputs must make neurons fire, n=" << n;
    EXPECT_LT(spikes, static_cast<float>(size)) << "n=" << n;

    // Backward from these spikes; du of 0 (a forced case) exercises -1/0 = -inf.
    if (n > 20) {
      du[3] = 0.0f;
      o[3] = 1.0f;
    }
    Floats e(size);
    for (float& v : e) v = current(rng);
    for (size_t i = 0; i < size; ++i) e[i] *= o[i];
    Floats syn_a(steps + 1, 0.0f), partial_a(steps + 1, 0.0f);  // [T] = 0 (§1)
    for (int64_t k = 0; k < steps; ++k) {
      syn_a[k] = 1.0f / static_cast<float>(k + 1);
      partial_a[k] = 0.5f / static_cast<float>(k + 2);
    }
    Floats gw(size), gi(size), gw_ref(size), gi_ref(size);
    NeuronBackwardArgs bwd{.steps = steps,
                           .n = n,
                           .max_dudt_inv = 123456792.0f,
                           .e = e.data(),
                           .o = o.data(),
                           .du = du.data(),
                           .du_t = du_t.data(),
                           .syn_a = syn_a.data(),
                           .partial_a = partial_a.data(),
                           .grad_w = gw.data(),
                           .grad_in = gi.data()};
    NeuronBackward(bwd);
    NeuronBackwardArgs bref = bwd;
    bref.grad_w = gw_ref.data();
    bref.grad_in = gi_ref.data();
    BackwardReference(bref);
    EXPECT_TRUE(SameBits(gw, gw_ref)) << "n=" << n;
    EXPECT_TRUE(SameBits(gi, gi_ref)) << "n=" << n;
    // Without grad_in_ (the first layer) and du_t: the same grad_w_.
    Floats gw_only(size, -1.0f);
    NeuronBackwardArgs first_layer = bwd;
    first_layer.du_t = nullptr;
    first_layer.grad_in = nullptr;
    first_layer.grad_w = gw_only.data();
    NeuronBackward(first_layer);
    EXPECT_TRUE(SameBits(gw_only, gw_ref)) << "without grad_in, n=" << n;
    EXPECT_GT(std::count_if(gw.begin(), gw.end(), [](float v) { return v != 0; }), 0);

    // The steps' sum of grad_w_ (a static input's filter gradient): Σ from t = T-1
    // down to 0 of the reference grad_w_, with grad_w_ itself written or not.
    Floats sum_ref(static_cast<size_t>(n), 0.0f);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t t = steps - 1; t >= 0; --t) sum_ref[i] += gw_ref[t * n + i];
    }
    for (const bool with_grad_w : {false, true}) {
      Floats sum(static_cast<size_t>(n), -1.0f), gw_too(size, -1.0f);
      NeuronBackwardArgs summed = first_layer;
      summed.grad_w = with_grad_w ? gw_too.data() : nullptr;
      summed.grad_w_sum = sum.data();
      NeuronBackward(summed);
      EXPECT_TRUE(SameBits(sum, sum_ref)) << "grad_w_sum, n=" << n << " " << with_grad_w;
      if (with_grad_w) {
        EXPECT_TRUE(SameBits(gw_too, gw_ref)) << "with the sum, n=" << n;
      }
    }
    EXPECT_GT(
        std::count_if(sum_ref.begin(), sum_ref.end(), [](float v) { return v != 0; }), 0);
  }
}

TEST(NeuronBackwardDeathTest, NeedsGradWOrItsSum) {
  Floats e(16), o(16), du(16, 1.0f), table(2);
  NeuronBackwardArgs a{.steps = 1,
                       .n = 16,
                       .e = e.data(),
                       .o = o.data(),
                       .du = du.data(),
                       .syn_a = table.data(),
                       .partial_a = table.data()};
  EXPECT_DEATH(NeuronBackward(a), "one of grad_w and grad_w_sum");
}

TEST(NeuronForwardDeathTest, DuTNeedsDu) {
  Floats input(16, 1.0f), du_t(16), o(16);
  NeuronForwardArgs a{.steps = 1,
                      .n = 16,
                      .params = {},
                      .input = input.data(),
                      .du = nullptr,
                      .du_t = du_t.data(),
                      .o = o.data()};
  EXPECT_DEATH(NeuronForward(a), "du wherever du_t is");
}

INSTANTIATE_TEST_SUITE_P(Types, NeuronKernelTest,
                         ::testing::Values(Case{true, true}, Case{true, false},
                                           Case{false, true}),
                         [](const auto& info) {
                           return std::string(info.param.leaky ? "Leaky" : "Nonleaky") +
                                  (info.param.exponential ? "Exponential" : "Original");
                         });

}  // namespace
}  // namespace edbp::kernels::cpu

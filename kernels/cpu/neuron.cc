// Neuron forward and backward on the CPU (ALGORITHM.md §2, §3): one independent
// recurrence per neuron, time loop inside, parallel over neurons.
#include <algorithm>

#include "kernels/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"

namespace edbp::kernels::cpu {
namespace {

constexpr int64_t kGrain = 4096;

}  // namespace

void NeuronForward(const NeuronForwardArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.n >= 0);
  EDBP_CHECK(a.input && a.du && a.du_t && a.o);
  const NeuronParams p = a.params;
  const float decay_m = 1.0f - p.theta_m;
  const float decay_s = 1.0f - p.theta_s;
  const float decay_g = 1.0f - p.theta_grad;
  const float theta_diff = p.theta_s - p.theta_m;
  const int64_t n = a.n;
  ParallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float m = 0, s = 0, g = 0, u_prev = 0;
      for (int64_t t = 0; t < a.steps; ++t) {
        const int64_t idx = t * n + i;
        const float in = a.input[idx];
        m = (m + in) * decay_m;  // §2
        s = (s + in) * decay_s;
        g = (g + in) * decay_g;
        float u, du, du_t;
        if (p.leaky) {
          u = ((m - s) * p.theta_s) / theta_diff;  // §2: evaluated in this order
          du = u - u_prev;
          du_t = p.exponential ? g : du;
        } else {
          du_t = g;
          u = u_prev + g;
          du = g;
        }
        const bool spike = u >= p.threshold;
        a.du[idx] = du;
        a.du_t[idx] = du_t;
        a.o[idx] = spike ? 1.0f : 0.0f;
        if (spike) {
          u_prev = 0;
          m = s = g = 0;
        } else {
          u_prev = u;
        }
      }
    }
  });
}

void NeuronBackward(const NeuronBackwardArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.n >= 0);
  EDBP_CHECK(a.e && a.o && a.du && a.du_t && a.syn_a && a.partial_a && a.grad_w &&
             a.grad_in);
  const int64_t n = a.n;
  const float lo_t = -a.max_dudt_inv;
  ParallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      bool spiked = false;
      float gw = 0, gt = 0;
      int64_t k = 0;
      for (int64_t t = a.steps - 1; t >= 0; --t) {
        const int64_t idx = t * n + i;
        const bool out = a.o[idx] != 0.0f;
        spiked |= out;
        if (out) {
          // §3: -1/0 = -inf clamps to the low end; IEEE semantics required.
          const float pu = std::clamp(-1.0f / a.du[idx], -4.0f, 0.0f);
          const float put = std::clamp(-1.0f / a.du_t[idx], lo_t, 0.0f);
          gw = a.e[idx] * pu;
          gt = a.e[idx] * put;
          k = 0;
        } else {
          k = std::min(k + 1, a.steps);  // syn_a[T] = partial_a[T] = 0 (§1)
        }
        a.grad_w[idx] = spiked ? gw * a.syn_a[k] : 0.0f;
        a.grad_in[idx] = spiked ? gt * a.partial_a[k] : 0.0f;
      }
    }
  });
}

}  // namespace edbp::kernels::cpu

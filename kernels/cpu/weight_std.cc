// Weight standardisation forward and backward (ALGORITHM.md §4), per output channel.
#include <cmath>

#include "kernels/check.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/parallel.h"

namespace edbp::kernels::cpu {

void WeightStdForward(const WeightStdForwardArgs& a) {
  EDBP_CHECK(a.c_out >= 1 && a.m >= 2) << "weight standardisation needs fan-in >= 2";
  const int64_t m = a.m;
  ParallelFor(a.c_out, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float* w = a.w + c * m;
      double sum = 0;
      for (int64_t j = 0; j < m; ++j) sum += w[j];
      const double mean_d = sum / static_cast<double>(m);
      double sq = 0;
      for (int64_t j = 0; j < m; ++j) {
        const double d = w[j] - mean_d;
        sq += d * d;
      }
      // §4: var = (unbiased std)², the std rounded to float32 first, as the reference.
      const float std_f = static_cast<float>(std::sqrt(sq / static_cast<double>(m - 1)));
      const float mean = static_cast<float>(mean_d);
      const float var = std_f * std_f;
      const float denom = std::sqrt(var + 1e-5f);
      const float g = a.g[c];
      const float b = a.b[c];
      float* w_hat = a.w_hat + c * m;
      for (int64_t j = 0; j < m; ++j) w_hat[j] = (w[j] - mean) / denom * g + b;
      a.mean[c] = mean;
      a.var[c] = var;
    }
  });
}

void WeightStdBackward(const WeightStdBackwardArgs& a) {
  EDBP_CHECK(a.c_out >= 1 && a.m >= 2);
  const int64_t m = a.m;
  const float m_f = static_cast<float>(m);
  ParallelFor(a.c_out, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float* grad = a.grad_w_hat + c * m;
      const float* w = a.w + c * m;
      float* grad_w = a.grad_w + c * m;
      const float mean = a.mean[c];
      const float g = a.g[c];
      const float b = a.b[c];
      const float std_inv = 1.0f / std::sqrt(a.var[c] + 1e-5f);
      double sum_g = 0, sum_gw = 0;
      if (!a.exact) {
        // §4 reference formulas: elementwise, not summed over the channel.
        for (int64_t j = 0; j < m; ++j) {
          const float w_hat = (w[j] - mean) * std_inv * g + b;  // Ŵ with g and b
          sum_g += grad[j];
          sum_gw += static_cast<double>(grad[j] * w_hat);
        }
        const float std_inv3 = std_inv * std_inv * std_inv;
        for (int64_t j = 0; j < m; ++j) {
          const float gp = grad[j] * g;
          const float centred = w[j] - mean;
          const float grad_var = gp * centred / m_f * (-0.5f) * std_inv3;
          const float grad_mean = -gp * std_inv;
          grad_w[j] = gp * std_inv + grad_var * 2.0f * centred / m_f + grad_mean / m_f;
        }
      } else {
        // True gradient of Ŵ = (w-μ)·r·g + b with σ² unbiased (divide by M-1):
        // dL/dw_i = g·r·(G_i - mean(G)) - g·r³·(w_i-μ)/(M-1)·Σ_j G_j (w_j-μ).
        double dot = 0;
        for (int64_t j = 0; j < m; ++j) {
          sum_g += grad[j];
          dot += static_cast<double>(grad[j]) * (w[j] - mean);
        }
        sum_gw = dot * std_inv;  // ∂Ŵ/∂g = (w-μ)·r
        const double r = std_inv;
        const double mean_grad = sum_g / static_cast<double>(m);
        const double coef = g * r * r * r * dot / static_cast<double>(m - 1);
        for (int64_t j = 0; j < m; ++j) {
          grad_w[j] = static_cast<float>(g * r * (grad[j] - mean_grad) -
                                         coef * (w[j] - mean));
        }
      }
      a.grad_b[c] = static_cast<float>(sum_g);
      a.grad_g[c] = static_cast<float>(sum_gw);
    }
  });
}

}  // namespace edbp::kernels::cpu

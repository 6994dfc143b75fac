// Direct, unoptimised double-precision implementations of ALGORITHM.md §2-§5 for
// checking the layers: written from the document, sharing no code with kernels/.
#ifndef EDBP_TESTS_UNIT_CORE_DIRECT_LOOPS_H_
#define EDBP_TESTS_UNIT_CORE_DIRECT_LOOPS_H_

#include <algorithm>
#include <cmath>
#include <vector>

namespace edbp::direct {

struct Neuron {
  double theta_m = 0.2, theta_s = 1.0 / 3.0, theta_g = 0.4, v = 1.0;
};

// I, du, du_t, o: [T, n]. Leaky / exponential only (the layers' tests use that mode).
inline void NeuronForward(const Neuron& p, int T, int n, const std::vector<double>& I,
                          std::vector<double>& du, std::vector<double>& du_t,
                          std::vector<double>& o) {
  du.assign(T * n, 0);
  du_t.assign(T * n, 0);
  o.assign(T * n, 0);
  for (int i = 0; i < n; ++i) {
    double m = 0, s = 0, g = 0, u_prev = 0;
    for (int t = 0; t < T; ++t) {
      const double in = I[t * n + i];
      m = (m + in) * (1 - p.theta_m);
      s = (s + in) * (1 - p.theta_s);
      g = (g + in) * (1 - p.theta_g);
      const double u = (m - s) * p.theta_s / (p.theta_s - p.theta_m);
      du[t * n + i] = u - u_prev;
      du_t[t * n + i] = g;
      if (u >= p.v) {
        o[t * n + i] = 1;
        u_prev = m = s = g = 0;
      } else {
        u_prev = u;
      }
    }
  }
}

inline double SynA(const Neuron& p, int k) {  // §1, k < T
  return (std::pow(1 - p.theta_m, k + 1) - std::pow(1 - p.theta_s, k + 1)) * p.theta_s /
         (p.theta_s - p.theta_m);
}

inline void NeuronBackward(const Neuron& p, int T, int n, const std::vector<double>& e,
                           const std::vector<double>& o, const std::vector<double>& du,
                           const std::vector<double>& du_t, std::vector<double>& grad_w,
                           std::vector<double>& grad_in) {
  grad_w.assign(T * n, 0);
  grad_in.assign(T * n, 0);
  for (int i = 0; i < n; ++i) {
    bool spiked = false;
    double gw = 0, gt = 0;
    int k = 0;
    for (int t = T - 1; t >= 0; --t) {
      const int idx = t * n + i;
      if (o[idx] != 0) {
        spiked = true;
        gw = e[idx] * std::clamp(-1 / du[idx], -4.0, 0.0);
        gt = e[idx] * std::clamp(-1 / du_t[idx], -123456789.0, 0.0);
        k = 0;
      } else {
        ++k;
      }
      if (!spiked || k >= T) continue;
      grad_w[idx] = gw * SynA(p, k);
      grad_in[idx] = gt * -std::pow(1 - p.theta_g, k + 1);
    }
  }
}

// §4 forward: w [c, m] → w_hat; also returns mean and var per channel.
inline void WeightStd(int c_out, int m, const std::vector<double>& w,
                      const std::vector<double>& g, const std::vector<double>& b,
                      std::vector<double>& w_hat, std::vector<double>& mean,
                      std::vector<double>& var) {
  w_hat.assign(c_out * m, 0);
  mean.assign(c_out, 0);
  var.assign(c_out, 0);
  for (int c = 0; c < c_out; ++c) {
    for (int j = 0; j < m; ++j) mean[c] += w[c * m + j] / m;
    for (int j = 0; j < m; ++j) var[c] += std::pow(w[c * m + j] - mean[c], 2) / (m - 1);
    for (int j = 0; j < m; ++j) {
      w_hat[c * m + j] =
          (w[c * m + j] - mean[c]) / std::sqrt(var[c] + 1e-5) * g[c] + b[c];
    }
  }
}

// §4 reference backward.
inline void WeightStdBackward(int c_out, int m, const std::vector<double>& G,
                              const std::vector<double>& w, const std::vector<double>& g,
                              const std::vector<double>& w_hat,
                              const std::vector<double>& mean,
                              const std::vector<double>& var, std::vector<double>& grad_w,
                              std::vector<double>& grad_g, std::vector<double>& grad_b) {
  grad_w.assign(c_out * m, 0);
  grad_g.assign(c_out, 0);
  grad_b.assign(c_out, 0);
  for (int c = 0; c < c_out; ++c) {
    const double r = 1 / std::sqrt(var[c] + 1e-5);
    for (int j = 0; j < m; ++j) {
      const int i = c * m + j;
      grad_b[c] += G[i];
      grad_g[c] += G[i] * w_hat[i];
      const double gp = G[i] * g[c], d = w[i] - mean[c];
      grad_w[i] = gp * r + (gp * d / m * -0.5 * r * r * r) * 2 * d / m + (-gp * r) / m;
    }
  }
}

}  // namespace edbp::direct

#endif  // EDBP_TESTS_UNIT_CORE_DIRECT_LOOPS_H_

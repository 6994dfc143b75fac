#include "core/neuron.h"

#include <cmath>

#include "base/check.h"

namespace edbp {

KernelTables ComputeKernelTables(const config::NetworkConfig& net, int64_t steps) {
  EDBP_CHECK(steps >= 1);
  EDBP_CHECK(net.tau_m != net.tau_s);
  const bool exponential = net.gradient_type == config::GradientType::kExponential;
  const double theta_m = 1.0 / net.tau_m;
  const double theta_s = 1.0 / net.tau_s;
  double theta_g = 0;
  if (exponential) {
    EDBP_CHECK(net.tau_grad > 0);
    theta_g = 1.0 / net.tau_grad;
  }
  // §1: f(j) = ((1-θm)^j - (1-θs)^j)·θs/(θs-θm); syn_a[k] = f(k+1).
  auto f = [&](int64_t j) {
    return (std::pow(1 - theta_m, j) - std::pow(1 - theta_s, j)) * theta_s /
           (theta_s - theta_m);
  };
  KernelTables tables;
  tables.syn_a.assign(steps + 1, 0.0f);
  tables.dsyn_a.assign(steps + 1, 0.0f);
  tables.partial_a.assign(steps + 1, 0.0f);
  for (int64_t k = 0; k < steps; ++k) {
    tables.syn_a[k] = static_cast<float>(f(k + 1));
    tables.dsyn_a[k] =
        static_cast<float>(exponential ? std::pow(1 - theta_g, k + 1) : f(k + 1) - f(k));
    tables.partial_a[k] = -tables.dsyn_a[k];
  }
  return tables;
}

kernels::NeuronParams MakeNeuronParams(const config::NetworkConfig& net,
                                       float threshold) {
  kernels::NeuronParams p;
  p.theta_m = static_cast<float>(1.0 / net.tau_m);
  p.theta_s = static_cast<float>(1.0 / net.tau_s);
  p.exponential = net.gradient_type == config::GradientType::kExponential;
  p.theta_grad = p.exponential ? static_cast<float>(1.0 / net.tau_grad) : 0.0f;
  p.threshold = threshold;
  p.leaky = net.forward_type == config::ForwardType::kLeaky;
  return p;
}

float MaxDudtInv(const config::NetworkConfig& net) {
  return static_cast<float>(net.max_dudt_inv);
}

}  // namespace edbp

// Helpers of the layer tests (layer_test, residual_test): the neuron setup used by the
// direct loops (tau_m 5, tau_s 3, tau_grad 2.5, T = 5) and seeded random vectors.
#ifndef EDBP_TESTS_UNIT_CORE_LAYER_TEST_UTIL_H_
#define EDBP_TESTS_UNIT_CORE_LAYER_TEST_UTIL_H_

#include <random>
#include <vector>

#include "core/layers/spiking_layer.h"
#include "core/neuron.h"
#include "tests/test_util.h"

namespace edbp::testing {

inline constexpr int kSteps = 5;

inline NeuronSetup MakeSetup() {
  config::NetworkConfig net;
  net.tau_m = 5;
  net.tau_s = 3;
  net.tau_grad = 2.5;
  net.n_steps = kSteps;
  const KernelTables tables = ComputeKernelTables(net, kSteps);
  NeuronSetup s;
  s.params = MakeNeuronParams(net, 1.0f);
  s.max_dudt_inv = MaxDudtInv(net);
  s.syn_a = MakeTensor({kSteps + 1}, tables.syn_a);
  s.partial_a = MakeTensor({kSteps + 1}, tables.partial_a);
  return s;
}

// n values uniform in [lo, hi), a fraction zero_frac of them replaced by 0.
inline std::vector<float> Uniform(size_t n, float lo, float hi, uint64_t seed,
                                  float zero_frac = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi), z(0, 1);
  std::vector<float> v(n);
  for (float& x : v) x = z(rng) < zero_frac ? 0.0f : d(rng);
  return v;
}

}  // namespace edbp::testing

#endif  // EDBP_TESTS_UNIT_CORE_LAYER_TEST_UTIL_H_

// Neuron parameters and kernel tables (ALGORITHM.md §1), derived from the config.
#ifndef EDBP_CORE_NEURON_H_
#define EDBP_CORE_NEURON_H_

#include <cstdint>
#include <vector>

#include "core/config/config.h"
#include "kernels/ops.h"

namespace edbp {

// Kernel tables of length T+1 (last entry 0), computed in double and stored float32.
struct KernelTables {
  std::vector<float> syn_a;      // §1 syn_a
  std::vector<float> dsyn_a;     // §1 dsyn_a (exponential or original)
  std::vector<float> partial_a;  // -dsyn_a
};

// `steps` is T = n_steps (§0). CHECKs tau_m != tau_s and, for exponential, tau_grad > 0
// (the config validates both).
KernelTables ComputeKernelTables(const config::NetworkConfig& net, int64_t steps);

// θm, θs, θg as float32(1/tau) and the layer's threshold (§2).
kernels::NeuronParams MakeNeuronParams(const config::NetworkConfig& net, float threshold);

// max_dudt_inv as float32 (§3: default 123456789 -> 123456792).
float MaxDudtInv(const config::NetworkConfig& net);

}  // namespace edbp

#endif  // EDBP_CORE_NEURON_H_

// The neuron's maths for one neuron and one time step (ALGORITHM.md §2, §3), written once
// for both backends (see kernels/host_device.h): the CPU's scalar path
// (kernels/cpu/neuron.cc, which also checks its vector lanes against it bit for bit) and
// the CUDA kernels (kernels/cuda/neuron.cu) call these same functions.
#ifndef EDBP_KERNELS_NEURON_MATH_H_
#define EDBP_KERNELS_NEURON_MATH_H_

#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/ops.h"

namespace edbp::kernels {

// The constants of §2's recurrence, computed once per call.
struct NeuronForwardConsts {
  float decay_m, decay_s, decay_g, theta_s, theta_diff, threshold;
  bool leaky, exponential;
};

EDBP_HOST_DEVICE inline NeuronForwardConsts MakeNeuronForwardConsts(
    const NeuronParams& p) {
  return {1.0f - p.theta_m, 1.0f - p.theta_s,      1.0f - p.theta_grad,
          p.theta_s,        p.theta_s - p.theta_m, p.threshold,
          p.leaky,          p.exponential};
}

// One neuron's state between steps (all zero at t = 0 and after a spike).
struct NeuronForwardState {
  float m = 0, s = 0, g = 0, u_prev = 0;
};

// What one step produces: the potential's change du, the change du_t the input's
// gradient uses, and the spike.
struct NeuronForwardStep {
  float du, du_t;
  bool spike;
};

// §2, one step: the input current `in` enters the three traces, the potential u follows
// (leaky: ((m - s)·θs)/(θs - θm) in this order; non-leaky: u_prev + g), a spike when
// u ≥ V resets the state to zero.
EDBP_HOST_DEVICE inline NeuronForwardStep NeuronForwardStepOf(
    NeuronForwardState& st, float in, const NeuronForwardConsts& c) {
  st.m = (st.m + in) * c.decay_m;
  st.s = (st.s + in) * c.decay_s;
  st.g = (st.g + in) * c.decay_g;
  float u, du, du_t;
  if (c.leaky) {
    u = ((st.m - st.s) * c.theta_s) / c.theta_diff;
    du = u - st.u_prev;
    du_t = c.exponential ? st.g : du;
  } else {
    du_t = st.g;
    u = st.u_prev + st.g;
    du = st.g;
  }
  const bool spike = u >= c.threshold;
  if (spike) {
    st.u_prev = 0;
    st.m = st.s = st.g = 0;
  } else {
    st.u_prev = u;
  }
  return {du, du_t, spike};
}

// One neuron's state of §3's backward pass, from t = T-1 down to 0.
struct NeuronBackwardState {
  bool spiked = false;   // the neuron spiked at this step or a later one
  float gw = 0, gt = 0;  // e·∂o/∂u and e·∂o/∂u_t at the latest spike seen
  int64_t k = 0;         // steps since that spike (capped at T: the tables' 0 entry)
};

// §3, one step t (walking down): `out` is the spike o[t]; e, du, du_t are the [T, n]
// tensors and idx the neuron's entry at t in them (du_t is read only where grad_in is
// not null: it may be null otherwise); lo_t is -max_dudt_inv. Returns dL/dW's term of
// step t, gw·syn_a[k] (0 before any spike); *grad_in, where not null, receives dL/dI at
// t, gt·partial_a[k]. -1/0 = -inf clamps to the low end: IEEE division required.
EDBP_HOST_DEVICE inline float NeuronBackwardStepOf(
    NeuronBackwardState& st, bool out, const float* e, const float* du, const float* du_t,
    int64_t idx, float lo_t, int64_t steps, const float* syn_a, const float* partial_a,
    float* grad_in) {
  st.spiked |= out;
  if (out) {
    const float pu = ClampLikeStd(-1.0f / du[idx], -4.0f, 0.0f);
    st.gw = e[idx] * pu;
    if (grad_in != nullptr) {
      const float put = ClampLikeStd(-1.0f / du_t[idx], lo_t, 0.0f);
      st.gt = e[idx] * put;
    }
    st.k = 0;
  } else {
    st.k = st.k + 1 < steps ? st.k + 1 : steps;  // syn_a[T] = partial_a[T] = 0 (§1)
  }
  if (grad_in != nullptr) *grad_in = st.spiked ? st.gt * partial_a[st.k] : 0.0f;
  return st.spiked ? st.gw * syn_a[st.k] : 0.0f;
}

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_NEURON_MATH_H_

// When a CUDA `--inspect-step` agrees with the CPU's (ALGORITHM.md §12), as one decision
// that the GPU train test applies and a unit test checks on synthetic differences.
//
// The convolutions and GEMMs sum in another order on the GPU, so a neuron whose
// potential lies within rounding of its threshold may fire on one backend only. A
// flipped spike in the output layer moves the count loss; one in a hidden layer (the
// likelier case: millions of neuron-steps, not in the file) moves every gradient above
// it by about 1e-3 of its norm. So:
//   - output spikes: at most 0.1 % differ ("outputs" and "outputs_raw");
//   - loss: within 1e-5 of max(1, |L|), plus what the differing post-injection output
//     spikes can move it: each changes one count by 1, δ by 1/T, and ½·T·δ² by at most
//     |δ| + 1/(2T) ≤ 1 + 1/(2T) (|δ| ≤ 1: counts and targets lie in [0, T]);
//   - each gradient: within 1e-4 of the tensor's max |·| everywhere; where not (a flip
//     somewhere), within 1e-2 of its L2 norm, a bound a wrong kernel does not meet.
#ifndef EDBP_TESTS_GPU_STEP_COMPARE_H_
#define EDBP_TESTS_GPU_STEP_COMPARE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/io/safetensors.h"

namespace edbp::gpu_test {

struct StepComparison {
  int64_t output_flips = 0;           // differing entries of outputs and outputs_raw
  int64_t output_entries = 0;         // entries of the two
  int64_t injected_flips = 0;         // differing entries of outputs (what the loss sees)
  int grads = 0;                      // gradients compared
  int grads_within_l2_only = 0;       // of those, passing by the L2 bound only
  std::vector<std::string> failures;  // empty: the two steps agree
};

// The count loss's bound per differing output spike over T steps (see above).
inline double CountLossPerFlip(int64_t steps) {
  return 1.0 + 1.0 / (2.0 * static_cast<double>(steps));
}

inline StepComparison CompareInspectSteps(const SafeTensors& cpu, const SafeTensors& gpu,
                                          double loss_per_flip) {
  StepComparison r;
  auto fail = [&r](std::string what) { r.failures.push_back(std::move(what)); };
  for (const char* key : {"outputs", "outputs_raw"}) {
    if (!cpu.tensors.count(key) || !gpu.tensors.count(key)) {
      fail(absl::StrCat(key, ": missing"));
      continue;
    }
    const std::vector<float>& a = cpu.tensors.at(key).data;
    const std::vector<float>& b = gpu.tensors.at(key).data;
    if (a.size() != b.size()) {
      fail(absl::StrCat(key, ": ", a.size(), " vs ", b.size(), " entries"));
      continue;
    }
    int64_t flips = 0;
    for (size_t i = 0; i < a.size(); ++i) flips += a[i] != b[i];
    r.output_flips += flips;
    r.output_entries += static_cast<int64_t>(a.size());
    if (std::string(key) == "outputs") r.injected_flips = flips;
  }
  if (r.output_flips * 1000 > r.output_entries) {
    fail(absl::StrCat("outputs: ", r.output_flips, " of ", r.output_entries,
                      " spikes differ (more than 0.1 %)"));
  }
  for (const auto& [key, t] : cpu.tensors) {
    if (key == "outputs" || key == "outputs_raw") continue;  // compared above
    if (!gpu.tensors.count(key)) {
      fail(absl::StrCat(key, ": missing on the GPU"));
      continue;
    }
    const std::vector<float>& a = t.data;
    const std::vector<float>& b = gpu.tensors.at(key).data;
    if (a.size() != b.size()) {
      fail(absl::StrCat(key, ": ", a.size(), " vs ", b.size(), " entries"));
      continue;
    }
    if (key == "loss") {
      const double want = a.at(0), got = b.at(0);
      const double tol = 1e-5 * std::max(1.0, std::fabs(want)) +
                         static_cast<double>(r.injected_flips) * loss_per_flip;
      if (!(std::fabs(got - want) <= tol)) {
        fail(absl::StrCat("loss: cpu ", want, " gpu ", got, " (tolerance ", tol, " with ",
                          r.injected_flips, " differing output spikes)"));
      }
      continue;
    }
    if (key.find(".grad") == std::string::npos) continue;
    ++r.grads;
    double scale = 0, diff2 = 0, norm2 = 0, worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
      const double d = static_cast<double>(a[i]) - b[i];
      worst = std::isnan(d) ? INFINITY : std::max(worst, std::fabs(d));
      diff2 += d * d;
      norm2 += static_cast<double>(a[i]) * a[i];
    }
    if (worst <= 1e-4 * std::max(scale, 1e-30)) continue;
    if (std::sqrt(diff2) <= 1e-2 * std::sqrt(norm2)) {
      ++r.grads_within_l2_only;
      continue;
    }
    fail(absl::StrCat(key, ": off by up to ", worst, " (max |·| ", scale, "), L2 ",
                      std::sqrt(diff2), " of ", std::sqrt(norm2)));
  }
  return r;
}

}  // namespace edbp::gpu_test

#endif  // EDBP_TESTS_GPU_STEP_COMPARE_H_

// The network the checkpoint targets load into: a conv and a linear layer on 1x4x4
// synthetic input (a few hundred parameters), so that a seed checkpoint is a few KiB.
#ifndef EDBP_FUZZ_TINY_NETWORK_H_
#define EDBP_FUZZ_TINY_NETWORK_H_

namespace edbp::fuzz {

inline constexpr char kTinyNetworkYaml[] = R"(Network:
  epochs: 2
  batch_size: 2
  n_steps: 3
  dataset: "Synthetic"
  input_shape: [1, 4, 4]
  backend: "cpu"
  optimizer: "AdamW"
  lr: 0.001
  loss: "count"
  gradient_type: "exponential"
  n_class: 2
  desired_count: 2
  undesired_count: 0
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5
Layers:
  conv_1:
    type: "conv"
    in_channels: 1
    out_channels: 2
    kernel_size: 3
    padding: 0
    threshold: 1
  output:
    type: "linear"
    n_inputs: 8
    n_outputs: 2
    threshold: 1
)";

}  // namespace edbp::fuzz

#endif  // EDBP_FUZZ_TINY_NETWORK_H_

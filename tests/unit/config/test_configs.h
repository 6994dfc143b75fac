// Shared YAML for the config tests: the reference's FashionMNIST network
// (32C5-P2-64C5-P2-1024-10), and a way to derive bad variants from it.
#ifndef EDBP_TESTS_UNIT_CONFIG_TEST_CONFIGS_H_
#define EDBP_TESTS_UNIT_CONFIG_TEST_CONFIGS_H_

#include <string>
#include <string_view>
#include <vector>

namespace edbp::config::testing {

// Line numbers matter to the syntax-error test: `lr` is on line 9.
inline constexpr char kFashionMnist[] = R"(Network:
  epochs: 150
  batch_size: 50
  n_steps: 5
  dataset: "FashionMNIST"
  data_path: "/usr/share/datasets/fashion-mnist"
  log_path: "logs/FashionMNIST"
  optimizer: "AdamW"
  lr: 0.0005
  weight_decay: 0.0005
  avg_spike_init: 0.5
  loss: "count"
  gradient_type: "exponential"
  pooling_type: "adjusted_avg"
  n_class: 10
  desired_count: 5
  undesired_count: 1
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5

Layers:
  conv_1:
    type: "conv"
    in_channels: 1
    out_channels: 32
    kernel_size: 5
    padding: 2
    threshold: 1

  pooling_1:
    type: "pooling"
    kernel_size: 2

  conv_2:
    type: "conv"
    in_channels: 32
    out_channels: 64
    kernel_size: 5
    padding: 2
    threshold: 1

  pooling_2:
    type: "pooling"
    kernel_size: 2

  FC_1:
    type: "linear"
    n_inputs: 3136
    n_outputs: 1024
    threshold: 1

  output:
    type: "linear"
    n_inputs: 1024
    n_outputs: 10
    threshold: 1
)";

// `base` with the one occurrence of `from` replaced by `to`; fails the test when
// `from` does not occur exactly once.
std::string Replace(std::string_view base, std::string_view from, std::string_view to);

// kFashionMnist with the edits applied in order ({from, to} pairs).
std::string FashionMnistWith(
    const std::vector<std::pair<std::string_view, std::string_view>>& edits);

// Parses `yaml` as "test.yaml", expects INVALID_ARGUMENT and returns its lines.
std::vector<std::string> ErrorLines(const std::string& yaml);

}  // namespace edbp::config::testing

#endif  // EDBP_TESTS_UNIT_CONFIG_TEST_CONFIGS_H_

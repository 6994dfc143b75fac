#include "core/train/gradient_flow.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "core/layers/residual.h"
#include "nlohmann/json.hpp"

namespace edbp::train {
namespace {

// Σ over everything but the leading (time) axis of t [T, ...], per step, in double.
absl::StatusOr<std::vector<double>> SumPerStep(const Tensor& t) {
  EDBP_ASSIGN_OR_RETURN(const std::vector<float> host, t.ToHost());
  const int64_t steps = t.dim(0);
  const int64_t per_step = steps > 0 ? t.numel() / steps : 0;
  std::vector<double> sums(steps, 0.0);
  for (int64_t s = 0; s < steps; ++s) {
    double sum = 0;
    for (int64_t i = s * per_step; i < (s + 1) * per_step; ++i) sum += host[i];
    sums[s] = sum;
  }
  return sums;
}

absl::StatusOr<double> Norm(const Tensor& t) {
  EDBP_ASSIGN_OR_RETURN(const std::vector<float> host, t.ToHost());
  double sum_sq = 0;
  for (float v : host) sum_sq += static_cast<double>(v) * v;
  return std::sqrt(sum_sq);
}

double RelativeTo(double difference, double scale) {
  return std::fabs(difference) / std::max(std::fabs(scale), 1e-30);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GradientFlowCollector>> GradientFlowCollector::Attach(
    Network& net) {
  std::unique_ptr<GradientFlowCollector> c(new GradientFlowCollector(net));
  const auto& layers = net.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<SpikingLayer*> spiking;
    ResidualLayer* block = nullptr;
    if (layers[i]->HasParameters()) {
      spiking.push_back(static_cast<SpikingLayer*>(layers[i].get()));
    } else if (layers[i]->config().type == config::LayerType::kResidual) {
      auto* residual = static_cast<ResidualLayer*>(layers[i].get());
      block = residual;
      spiking = {&residual->conv1(), &residual->conv2()};
      if (residual->shortcut() != nullptr) spiking.push_back(residual->shortcut());
    }
    for (SpikingLayer* layer : spiking) {
      Slot slot;
      slot.layer = layer;
      slot.block = block;
      slot.entry.name = layer->name();
      slot.entry.index = static_cast<int64_t>(i);
      slot.entry.type =
          layer->config().type == config::LayerType::kLinear ? "linear" : "conv";
      const config::SampleShape& out = layer->config().out_shape;
      EDBP_CHECK(!out.empty()) << layer->name() << ": the config's shape inference ran";
      slot.entry.neurons = NumElements(out);
      c->by_layer_[layer] = c->slots_.size();
      c->slots_.push_back(std::move(slot));
    }
  }
  for (Slot& s : c->slots_) {
    s.previous = s.layer->observer();
    s.layer->set_observer(c.get());
  }
  return c;
}

GradientFlowCollector::~GradientFlowCollector() {
  for (Slot& s : slots_) s.layer->set_observer(s.previous);
}

GradientFlowCollector::Slot& GradientFlowCollector::SlotOf(const SpikingLayer& layer) {
  auto it = by_layer_.find(&layer);
  EDBP_CHECK(it != by_layer_.end()) << layer.name();
  return slots_[it->second];
}

absl::Status GradientFlowCollector::OnTrainingSpikes(const SpikingLayer& /*layer*/,
                                                     const Tensor& /*spike_counts*/,
                                                     int64_t /*steps*/) {
  return absl::OkStatus();  // OnForwardSpikes has them per step
}

absl::Status GradientFlowCollector::OnForwardSpikes(const SpikingLayer& layer,
                                                    const Tensor& o) {
  Slot& s = SlotOf(layer);
  EDBP_ASSIGN_OR_RETURN(const std::vector<float> host, o.ToHost());
  const int64_t steps = o.dim(0);
  const int64_t neurons = s.entry.neurons;
  const int64_t per_step = steps > 0 ? o.numel() / steps : 0;
  EDBP_CHECK(neurons > 0 && per_step % neurons == 0) << layer.name();
  s.entry.spikes.assign(steps, 0);
  std::vector<bool> fired(neurons, false);
  for (int64_t t = 0; t < steps; ++t) {
    int64_t count = 0;
    for (int64_t i = 0; i < per_step; ++i) {
      if (host[t * per_step + i] != 0.0f) {
        ++count;
        fired[i % neurons] = true;
      }
    }
    s.entry.spikes[t] = count;
  }
  s.entry.silent_neurons = std::count(fired.begin(), fired.end(), false);
  s.entry.silent_fraction =
      static_cast<double>(s.entry.silent_neurons) / static_cast<double>(neurons);
  s.forward_seen = true;
  return absl::OkStatus();
}

absl::Status GradientFlowCollector::OnBackward(const SpikingLayer& layer,
                                               const Tensor& event_grad,
                                               const Tensor& input_grad) {
  Slot& s = SlotOf(layer);
  EDBP_ASSIGN_OR_RETURN(s.entry.grad_in, SumPerStep(event_grad));
  s.entry.grad_out.clear();
  if (input_grad.defined()) {
    EDBP_ASSIGN_OR_RETURN(s.entry.grad_out, SumPerStep(input_grad));
  }
  s.backward_seen = true;
  return absl::OkStatus();
}

absl::StatusOr<GradientFlowReport> GradientFlowCollector::Report() const {
  GradientFlowReport report;
  for (const Slot& s : slots_) {
    if (!s.forward_seen || !s.backward_seen) {
      return absl::FailedPreconditionError(
          absl::StrCat("gradient flow: layer ", s.entry.name, " was not seen in ",
                       s.forward_seen ? "the backward" : "the forward", " pass"));
    }
    GradientFlowLayer entry = s.entry;
    EDBP_ASSIGN_OR_RETURN(entry.grad_norm, Norm(s.layer->grad_weight()));
    EDBP_ASSIGN_OR_RETURN(entry.weight_norm, Norm(s.layer->weight()));
    report.layers.push_back(std::move(entry));
  }
  // §14: the pairs (a layer, the spiking layer right below it). A top-level layer pairs
  // with the previous top-level spiking layer when only pooling and dropout lie between;
  // inside a residual block conv2 pairs with conv1 (a block's input also feeds its
  // shortcut, so what enters the layer below a block is a sum of two: no pair).
  const auto& layers = net_.layers();
  const auto add_pair = [&](size_t upper, size_t lower,
                            std::vector<std::string> through) {
    const GradientFlowLayer& u = report.layers[upper];
    const GradientFlowLayer& l = report.layers[lower];
    if (u.grad_out.size() != l.grad_in.size()) return;
    GradientFlowPair pair;
    pair.upper = u.name;
    pair.lower = l.name;
    pair.through = std::move(through);
    for (size_t t = 0; t < u.grad_out.size(); ++t) {
      pair.passed_down += u.grad_out[t];
      pair.entering += l.grad_in[t];
    }
    pair.relative_difference =
        RelativeTo(pair.passed_down - pair.entering, pair.entering);
    for (size_t t = 0; t < u.grad_out.size(); ++t) {
      pair.max_step_relative_difference =
          std::max(pair.max_step_relative_difference,
                   RelativeTo(u.grad_out[t] - l.grad_in[t], pair.entering));
    }
    report.invariant.push_back(std::move(pair));
  };
  for (size_t k = 1; k < slots_.size(); ++k) {
    const Slot& upper = slots_[k];
    const Slot& lower = slots_[k - 1];
    if (upper.block != nullptr) {
      if (upper.block == lower.block && upper.layer == &upper.block->conv2() &&
          lower.layer == &upper.block->conv1()) {
        add_pair(k, k - 1, {});
      }
      continue;
    }
    if (lower.block != nullptr) continue;
    std::vector<std::string> through;
    bool direct = true;
    for (int64_t j = upper.entry.index - 1; j > lower.entry.index; --j) {
      const config::LayerType type = layers[j]->config().type;
      if (type != config::LayerType::kPooling && type != config::LayerType::kDropout) {
        direct = false;
        break;
      }
      through.insert(through.begin(), layers[j]->name());
    }
    if (direct) add_pair(k, k - 1, std::move(through));
  }
  return report;
}

std::string GradientFlowToJson(const GradientFlowReport& report) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const GradientFlowLayer& l : report.layers) {
    nlohmann::ordered_json j;
    j["name"] = l.name;
    j["index"] = l.index;
    j["type"] = l.type;
    j["neurons"] = l.neurons;
    j["grad_in"] = l.grad_in;
    j["grad_out"] = l.grad_out.empty() ? nlohmann::ordered_json(nullptr)
                                       : nlohmann::ordered_json(l.grad_out);
    j["spikes"] = l.spikes;
    j["silent_neurons"] = l.silent_neurons;
    j["silent_fraction"] = l.silent_fraction;
    j["grad_norm"] = l.grad_norm;
    j["weight_norm"] = l.weight_norm;
    layers.push_back(std::move(j));
  }
  nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
  for (const GradientFlowPair& p : report.invariant) {
    nlohmann::ordered_json j;
    j["upper"] = p.upper;
    j["lower"] = p.lower;
    j["through"] = p.through;
    j["passed_down"] = p.passed_down;
    j["entering"] = p.entering;
    j["relative_difference"] = p.relative_difference;
    j["max_step_relative_difference"] = p.max_step_relative_difference;
    pairs.push_back(std::move(j));
  }
  nlohmann::ordered_json j;
  j["format"] = "edbp-gradient-flow";
  j["version"] = kGradientFlowVersion;
  j["config"] = report.config;
  j["weights"] = report.weights;
  j["seed"] = report.seed;
  j["split"] = report.split;
  j["batch"] = report.batch;
  j["batches"] = report.batches;
  j["batch_size"] = report.batch_size;
  j["time_steps"] = report.time_steps;
  j["loss"] = report.loss;
  j["layers"] = std::move(layers);
  j["invariant"] = std::move(pairs);
  return j.dump(1) + "\n";
}

}  // namespace edbp::train

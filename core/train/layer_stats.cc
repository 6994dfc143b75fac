#include "core/train/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "core/layers/residual.h"
#include "kernels/backend.h"

namespace edbp::train {
namespace {

absl::StatusOr<kernels::ReduceStatsResult> Reduce(const Tensor& t) {
  kernels::ReduceStatsResult r;
  EDBP_RETURN_IF_ERROR(
      t.backend()->ReduceStats({.n = t.numel(), .x = t.f32(), .result = &r}));
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LayerStatsCollector>> LayerStatsCollector::Attach(
    Network& net) {
  std::unique_ptr<LayerStatsCollector> c(new LayerStatsCollector(net));
  const auto& layers = net.layers();
  // The spiking layers of net.{i}: the layer itself, or a residual block's convs
  // ("<block>.conv1", "<block>.conv2", "<block>.shortcut"), so that ResNets have
  // gradient-flow statistics too.
  const auto spiking_layers = [&](size_t i) {
    std::vector<SpikingLayer*> out;
    if (layers[i]->HasParameters()) {
      out.push_back(static_cast<SpikingLayer*>(layers[i].get()));
    } else if (layers[i]->config().type == config::LayerType::kResidual) {
      auto* block = static_cast<ResidualLayer*>(layers[i].get());
      out = {&block->conv1(), &block->conv2()};
      if (block->shortcut() != nullptr) out.push_back(block->shortcut());
    }
    return out;
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    for (SpikingLayer* layer : spiking_layers(i)) {
      Slot slot;
      slot.layer = layer;
      slot.index = static_cast<int64_t>(i);
      const config::SampleShape& out = layer->config().out_shape;
      EDBP_CHECK(!out.empty()) << layer->name() << ": the config's shape inference ran";
      EDBP_ASSIGN_OR_RETURN(slot.spike_counts,
                            Tensor::Zeros(net.backend(), {NumElements(out)}));
      c->by_layer_[layer] = c->slots_.size();
      c->slots_.push_back(std::move(slot));
    }
  }
  for (Slot& s : c->slots_) s.layer->set_observer(c.get());
  return c;
}

LayerStatsCollector::~LayerStatsCollector() {
  for (Slot& s : slots_) s.layer->set_observer(nullptr);
}

LayerStatsCollector::Slot& LayerStatsCollector::SlotOf(const SpikingLayer& layer) {
  auto it = by_layer_.find(&layer);
  EDBP_CHECK(it != by_layer_.end()) << layer.name();
  return slots_[it->second];
}

absl::Status LayerStatsCollector::StartEpoch() {
  for (Slot& s : slots_) {
    EDBP_RETURN_IF_ERROR(net_.backend()->Fill(
        {.n = s.spike_counts.numel(), .value = 0.0f, .out = s.spike_counts.f32()}));
    const Tensor counts = s.spike_counts;
    SpikingLayer* layer = s.layer;
    const int64_t index = s.index;
    s = Slot();
    s.layer = layer;
    s.index = index;
    s.spike_counts = counts;
  }
  return absl::OkStatus();
}

absl::Status LayerStatsCollector::OnTrainingSpikes(const SpikingLayer& layer,
                                                   const Tensor& spike_counts,
                                                   int64_t steps) {
  Slot& s = SlotOf(layer);
  const int64_t neurons = s.spike_counts.numel();
  const int64_t rows = spike_counts.numel() / neurons;  // B
  s.spikes_seen_steps += static_cast<double>(rows * steps);
  return spike_counts.backend()->SpikeCount({.rows = rows,
                                             .neurons = neurons,
                                             .o = spike_counts.f32(),
                                             .counts = s.spike_counts.f32()});
}

absl::Status LayerStatsCollector::OnBackward(const SpikingLayer& layer,
                                             const Tensor& event_grad,
                                             const Tensor& input_grad) {
  Slot& s = SlotOf(layer);
  EDBP_ASSIGN_OR_RETURN(const auto in, Reduce(event_grad));
  s.grad_sum_in += in.sum;
  if (input_grad.defined()) {
    EDBP_ASSIGN_OR_RETURN(const auto out, Reduce(input_grad));
    s.grad_sum_out += out.sum;
  }
  ++s.backward_batches;
  return absl::OkStatus();
}

absl::Status LayerStatsCollector::BeforeStep() {
  for (Slot& s : slots_) {
    const Tensor& grad = s.layer->grad_weight();
    EDBP_ASSIGN_OR_RETURN(const auto g, Reduce(grad));
    s.grad_norm += std::sqrt(g.sum_sq);
    s.grad_mean += g.sum / static_cast<double>(grad.numel());
    s.grad_max_abs = std::max(s.grad_max_abs, g.max_abs);
    ++s.grad_batches;
    // Held only from here to AfterStep: allocated while the backward's tensors are
    // free, so that it never adds to the step's peak.
    EDBP_ASSIGN_OR_RETURN(s.weight_before, s.layer->weight().Clone());
  }
  return absl::OkStatus();
}

absl::Status LayerStatsCollector::AfterStep() {
  for (Slot& s : slots_) {
    const Tensor& w = s.layer->weight();
    // weight_before ← W_old - W_new = -ΔW (one pass; only its norm is used)
    EDBP_RETURN_IF_ERROR(net_.backend()->Axpy(
        {.n = w.numel(), .alpha = -1.0f, .x = w.f32(), .y = s.weight_before.f32()}));
    EDBP_ASSIGN_OR_RETURN(const auto delta, Reduce(s.weight_before));
    EDBP_ASSIGN_OR_RETURN(const auto now, Reduce(w));
    if (now.sum_sq > 0) s.update_ratio += std::sqrt(delta.sum_sq / now.sum_sq);
    ++s.updates;
    s.weight_before = Tensor();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LayerStats>> LayerStatsCollector::EndEpoch() {
  std::vector<LayerStats> out;
  for (Slot& s : slots_) {
    LayerStats st;
    st.name = s.layer->name();
    st.index = s.index;
    const auto per = [](double total, int64_t n) { return n > 0 ? total / n : 0.0; };
    st.grad_norm = per(s.grad_norm, s.grad_batches);
    st.grad_mean = per(s.grad_mean, s.grad_batches);
    st.grad_max_abs = s.grad_max_abs;
    st.grad_sum_in = per(s.grad_sum_in, s.backward_batches);
    st.grad_sum_out = per(s.grad_sum_out, s.backward_batches);
    EDBP_ASSIGN_OR_RETURN(const std::vector<float> counts, s.spike_counts.ToHost());
    double total = 0;
    int64_t silent = 0;
    for (float c : counts) {
      total += c;
      silent += c == 0.0f;
    }
    const double neurons = static_cast<double>(counts.size());
    st.firing_rate =
        s.spikes_seen_steps > 0 ? total / (neurons * s.spikes_seen_steps) : 0;
    st.silent_fraction = s.spikes_seen_steps > 0 ? silent / neurons : 0;
    EDBP_ASSIGN_OR_RETURN(const auto w, Reduce(s.layer->weight()));
    st.weight_norm = std::sqrt(w.sum_sq);
    st.update_ratio = per(s.update_ratio, s.updates);
    out.push_back(std::move(st));
  }
  return out;
}

absl::StatusOr<std::vector<LayerAccumulators>> LayerStatsCollector::Export() const {
  std::vector<LayerAccumulators> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) {
    LayerAccumulators a;
    EDBP_ASSIGN_OR_RETURN(a.spike_counts, s.spike_counts.ToHost());
    a.spikes_seen_steps = s.spikes_seen_steps;
    a.grad_sum_in = s.grad_sum_in;
    a.grad_sum_out = s.grad_sum_out;
    a.backward_batches = s.backward_batches;
    a.grad_norm = s.grad_norm;
    a.grad_mean = s.grad_mean;
    a.grad_max_abs = s.grad_max_abs;
    a.grad_batches = s.grad_batches;
    a.update_ratio = s.update_ratio;
    a.updates = s.updates;
    out.push_back(std::move(a));
  }
  return out;
}

absl::Status LayerStatsCollector::Import(const std::vector<LayerAccumulators>& sums) {
  if (sums.size() != slots_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("layer statistics: ", sums.size(),
                                                   " layers stored, the network has ",
                                                   slots_.size()));
  }
  for (size_t i = 0; i < sums.size(); ++i) {
    const LayerAccumulators& a = sums[i];
    const Slot& s = slots_[i];
    if (static_cast<int64_t>(a.spike_counts.size()) != s.spike_counts.numel()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer statistics of ", s.layer->name(), ": ", a.spike_counts.size(),
          " spike counts stored, the layer has ", s.spike_counts.numel(), " neurons"));
    }
    const bool counts_ok =
        std::all_of(a.spike_counts.begin(), a.spike_counts.end(),
                    [](float c) { return std::isfinite(c) && c >= 0; });
    if (!counts_ok || !std::isfinite(a.spikes_seen_steps) || a.spikes_seen_steps < 0 ||
        a.backward_batches < 0 || a.grad_batches < 0 || a.updates < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer statistics of ", s.layer->name(), ": a negative or non-finite count"));
    }
  }
  for (size_t i = 0; i < sums.size(); ++i) {
    const LayerAccumulators& a = sums[i];
    Slot& s = slots_[i];
    EDBP_RETURN_IF_ERROR(s.spike_counts.backend()->CopyHostToDevice(
        s.spike_counts.f32(), a.spike_counts.data(), s.spike_counts.bytes()));
    s.spikes_seen_steps = a.spikes_seen_steps;
    s.grad_sum_in = a.grad_sum_in;
    s.grad_sum_out = a.grad_sum_out;
    s.backward_batches = a.backward_batches;
    s.grad_norm = a.grad_norm;
    s.grad_mean = a.grad_mean;
    s.grad_max_abs = a.grad_max_abs;
    s.grad_batches = a.grad_batches;
    s.update_ratio = a.update_ratio;
    s.updates = a.updates;
  }
  return absl::OkStatus();
}

}  // namespace edbp::train

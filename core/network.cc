#include "core/network.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "core/layers/conv.h"
#include "core/layers/dropout.h"
#include "core/layers/linear.h"
#include "core/layers/pooling.h"
#include "core/layers/residual.h"
#include "core/neuron.h"
#include "kernels/backend.h"

namespace edbp {

absl::StatusOr<std::unique_ptr<Network>> Network::Create(const config::Config& config,
                                                         kernels::Backend* backend,
                                                         uint64_t seed) {
  EDBP_CHECK(backend != nullptr);
  std::unique_ptr<Network> net(new Network(config, backend, seed));
  const config::NetworkConfig& nc = net->config_.network;

  // §1 kernel tables over n_steps, shared by every spiking layer.
  const KernelTables tables = ComputeKernelTables(nc, nc.n_steps);
  net->neuron_.params = MakeNeuronParams(nc, 1.0f);
  net->neuron_.max_dudt_inv = MaxDudtInv(nc);
  net->neuron_.exact_weight_norm_backward =
      nc.weight_norm_backward == config::WeightNormBackward::kExact;
  const int64_t table_len = static_cast<int64_t>(tables.syn_a.size());
  EDBP_ASSIGN_OR_RETURN(net->neuron_.syn_a,
                        Tensor::FromHost(backend, {table_len}, tables.syn_a));
  EDBP_ASSIGN_OR_RETURN(net->neuron_.partial_a,
                        Tensor::FromHost(backend, {table_len}, tables.partial_a));

  // Construction draws W layer by layer in YAML order from a seeded generator.
  std::mt19937_64 init_rng(seed);
  for (const config::LayerConfig& lc : net->config_.layers) {
    switch (lc.type) {
      case config::LayerType::kConv: {
        EDBP_ASSIGN_OR_RETURN(auto layer, ConvLayer::Create(lc, &net->neuron_, backend));
        EDBP_RETURN_IF_ERROR(layer->ResetParameters(init_rng));
        net->layers_.push_back(std::move(layer));
        break;
      }
      case config::LayerType::kLinear: {
        EDBP_ASSIGN_OR_RETURN(auto layer,
                              LinearLayer::Create(lc, &net->neuron_, backend));
        EDBP_RETURN_IF_ERROR(layer->ResetParameters(init_rng));
        net->layers_.push_back(std::move(layer));
        break;
      }
      case config::LayerType::kPooling:
        net->layers_.push_back(std::make_unique<PoolingLayer>(lc, nc.pooling_type));
        break;
      case config::LayerType::kDropout:
        net->layers_.push_back(std::make_unique<DropoutLayer>(lc));
        break;
      case config::LayerType::kResidual: {
        EDBP_ASSIGN_OR_RETURN(auto layer,
                              ResidualLayer::Create(lc, &net->neuron_, backend));
        EDBP_RETURN_IF_ERROR(layer->ResetParameters(init_rng));
        net->layers_.push_back(std::move(layer));
        break;
      }
    }
  }
  EDBP_CHECK(!net->layers_.empty() && net->layers_.back()->HasParameters())
      << "the config validation guarantees a linear last layer (§5)";
  return net;
}

absl::StatusOr<NetworkForward> Network::Forward(const Tensor& x, const Tensor* labels,
                                                bool training, bool keep_context,
                                                bool input_repeats) {
  NetworkForward result;
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool last = i + 1 == layers_.size();
    ForwardOptions options{.training = training,
                           .labels = last ? labels : nullptr,
                           .rng = &rng_,
                           .keep_context = keep_context,
                           .input_grad = i > 0,
                           .input_repeats = i == 0 && input_repeats,
                           .batch_begin = slice_begin_,
                           .global_batch = slice_global_};
    EDBP_ASSIGN_OR_RETURN(LayerForward f, layers_[i]->Forward(h, options));
    h = f.output;
    if (keep_context) result.contexts.push_back(std::move(f.context));
    if (last) result.raw_output = f.raw_output.defined() ? f.raw_output : f.output;
  }
  result.output = h;
  return result;
}

absl::Status Network::Backward(const Tensor& grad_output, NetworkForward& forward) {
  EDBP_CHECK(forward.contexts.size() == layers_.size())
      << "Backward needs a Forward with keep_context";
  Tensor grad = grad_output;
  for (size_t i = layers_.size(); i-- > 0;) {
    const bool need_input_grad = i > 0;
    EDBP_ASSIGN_OR_RETURN(
        grad, layers_[i]->Backward(std::move(grad), std::move(forward.contexts[i]),
                                   need_input_grad));
  }
  forward.contexts.clear();
  return absl::OkStatus();
}

namespace {

// g ← g·mid or g ← g/mid in float32, as the reference's in-place ops on norm_weight.
absl::Status ScaleNormWeight(Tensor& g, float mid, bool divide) {
  EDBP_ASSIGN_OR_RETURN(std::vector<float> host, g.ToHost());
  for (float& v : host) v = divide ? v / mid : v * mid;
  return g.backend()->CopyHostToDevice(g.f32(), host.data(), g.bytes());
}

// Σ_{t ≥ t0} o / (B·N) in float32, as the reference (§7).
absl::StatusOr<float> LateSpikeRate(const Tensor& o, int64_t t0) {
  EDBP_ASSIGN_OR_RETURN(std::vector<float> host, o.ToHost());
  const int64_t per_step = o.numel() / o.dim(0);
  double count = 0;
  for (int64_t i = t0 * per_step; i < o.numel(); ++i) count += host[i];
  return static_cast<float>(count) / static_cast<float>(per_step);
}

// §7 for one spiking layer on its input h: bisects the factor on g, leaves g scaled
// by it, and returns it with the layer's output under the chosen g.
absl::StatusOr<double> BisectLayer(const config::NetworkConfig& nc, SpikingLayer& spiking,
                                   const Tensor& h, bool h_repeats, Tensor* out) {
  const ForwardOptions plain{.training = false,
                             .labels = nullptr,
                             .rng = nullptr,
                             .keep_context = false,
                             .input_repeats = h_repeats};
  const int64_t steps = h.dim(0);
  const int64_t t0 = 2 * steps / 3;
  // §7: avg > avg_spike_init/T·(T-t0)·1.2, compared in float32.
  const float target = static_cast<float>(nc.avg_spike_init / static_cast<double>(steps) *
                                          static_cast<double>(steps - t0) * 1.2);
  double lo = 0.05, hi = 500, mid = 0;
  while (hi / lo >= 1.01) {
    mid = std::sqrt(hi * lo);
    const float mid_f = static_cast<float>(mid);
    EDBP_RETURN_IF_ERROR(ScaleNormWeight(spiking.norm_weight(), mid_f, false));
    EDBP_ASSIGN_OR_RETURN(LayerForward f, spiking.Forward(h, plain));
    EDBP_RETURN_IF_ERROR(ScaleNormWeight(spiking.norm_weight(), mid_f, true));
    EDBP_ASSIGN_OR_RETURN(const float avg, LateSpikeRate(f.output, t0));
    if (avg > target) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  EDBP_RETURN_IF_ERROR(
      ScaleNormWeight(spiking.norm_weight(), static_cast<float>(mid), false));
  EDBP_ASSIGN_OR_RETURN(LayerForward f, spiking.Forward(h, plain));
  *out = f.output;
  return mid;
}

}  // namespace

absl::StatusOr<std::vector<double>> Network::InitializeByBisection(const Tensor& x,
                                                                   bool input_repeats) {
  const config::NetworkConfig& nc = config_.network;
  std::vector<double> factors;
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer* layer = layers_[i].get();
    // As in Forward: only the first layer is told that its input repeats.
    const bool h_repeats = i == 0 && input_repeats;
    const ForwardOptions plain{.training = false,
                               .labels = nullptr,
                               .rng = nullptr,
                               .keep_context = false,
                               .input_repeats = h_repeats};
    if (layer->config().type == config::LayerType::kDropout) continue;  // off in init
    if (auto* block = dynamic_cast<ResidualLayer*>(layer)) {
      // As the reference's initialize through the block's modules: conv1, conv2, then
      // the shortcut, each on its own input; the block's output is then recomputed.
      Tensor mid, main;
      EDBP_ASSIGN_OR_RETURN(double f1,
                            BisectLayer(nc, block->conv1(), h, h_repeats, &mid));
      EDBP_ASSIGN_OR_RETURN(
          double f2, BisectLayer(nc, block->conv2(), mid, /*h_repeats=*/false, &main));
      factors.push_back(f1);
      factors.push_back(f2);
      if (block->shortcut() != nullptr) {
        Tensor skip;
        EDBP_ASSIGN_OR_RETURN(double fs,
                              BisectLayer(nc, *block->shortcut(), h, h_repeats, &skip));
        factors.push_back(fs);
      }
      EDBP_ASSIGN_OR_RETURN(LayerForward f, block->Forward(h, plain));
      h = f.output;
      continue;
    }
    if (!layer->HasParameters()) {
      EDBP_ASSIGN_OR_RETURN(LayerForward f, layer->Forward(h, plain));
      h = f.output;
      continue;
    }
    Tensor out;
    EDBP_ASSIGN_OR_RETURN(
        double factor,
        BisectLayer(nc, static_cast<SpikingLayer&>(*layer), h, h_repeats, &out));
    h = out;
    factors.push_back(factor);
  }
  return factors;
}

std::vector<Parameter> Network::Parameters() {
  std::vector<Parameter> params;
  auto add = [&params](const std::string& prefix, SpikingLayer& l) {
    params.push_back({prefix + "weight", l.weight(), l.grad_weight(), false});
    params.push_back(
        {prefix + "norm_weight", l.norm_weight(), l.grad_norm_weight(), true});
    params.push_back({prefix + "norm_bias", l.norm_bias(), l.grad_norm_bias(), true});
  };
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string prefix = absl::StrCat("net.", i, ".");
    if (auto* block = dynamic_cast<ResidualLayer*>(layers_[i].get())) {
      // net.{i}.{conv1|conv2|shortcut}. (resnet.py:
      // layer{s}.{b}.{conv1|conv2|downsample}.)
      add(prefix + "conv1.", block->conv1());
      add(prefix + "conv2.", block->conv2());
      if (block->shortcut() != nullptr) add(prefix + "shortcut.", *block->shortcut());
      continue;
    }
    if (!layers_[i]->HasParameters()) continue;
    add(prefix, static_cast<SpikingLayer&>(*layers_[i]));
  }
  return params;
}

}  // namespace edbp

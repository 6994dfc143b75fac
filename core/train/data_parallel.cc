#include "core/train/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "kernels/backend.h"

namespace edbp::train {
namespace {

// A flat byte string of SafeTensors for BroadcastContents: counts and lengths as
// 8-byte host-order integers (every rank runs the same build), then the bytes.
void PutU64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}
void PutBytes(std::string& out, const void* data, size_t n) {
  PutU64(out, n);
  out.append(static_cast<const char*>(data), n);
}

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool U64(uint64_t& v) {
    if (s_.size() - pos_ < sizeof(v)) return false;
    std::memcpy(&v, s_.data() + pos_, sizeof(v));
    pos_ += sizeof(v);
    return true;
  }
  bool Bytes(std::string& out) {
    uint64_t n = 0;
    if (!U64(n) || n > s_.size() - pos_) return false;
    out.assign(s_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

std::string Serialize(const SafeTensors& contents) {
  std::string out;
  PutU64(out, contents.metadata.size());
  for (const auto& [key, value] : contents.metadata) {
    PutBytes(out, key.data(), key.size());
    PutBytes(out, value.data(), value.size());
  }
  PutU64(out, contents.tensors.size());
  for (const auto& [name, t] : contents.tensors) {
    PutBytes(out, name.data(), name.size());
    PutBytes(out, t.shape.data(), t.shape.size() * sizeof(int64_t));
    PutBytes(out, t.data.data(), t.data.size() * sizeof(float));
  }
  return out;
}

absl::StatusOr<SafeTensors> Deserialize(const std::string& bytes) {
  const auto broken = [] {
    return absl::DataLossError("the checkpoint broadcast by rank 0 arrived broken");
  };
  Reader in(bytes);
  SafeTensors out;
  uint64_t entries = 0;
  if (!in.U64(entries)) return broken();
  for (uint64_t i = 0; i < entries; ++i) {
    std::string key, value;
    if (!in.Bytes(key) || !in.Bytes(value)) return broken();
    out.metadata[key] = std::move(value);
  }
  if (!in.U64(entries)) return broken();
  for (uint64_t i = 0; i < entries; ++i) {
    std::string name, shape, data;
    if (!in.Bytes(name) || !in.Bytes(shape) || !in.Bytes(data) ||
        shape.size() % sizeof(int64_t) != 0 || data.size() % sizeof(float) != 0) {
      return broken();
    }
    HostTensor t;
    t.shape.resize(shape.size() / sizeof(int64_t));
    std::memcpy(t.shape.data(), shape.data(), shape.size());
    t.data.resize(data.size() / sizeof(float));
    std::memcpy(t.data.data(), data.data(), data.size());
    if (NumElements(t.shape) != static_cast<int64_t>(t.data.size())) return broken();
    out.tensors[name] = std::move(t);
  }
  if (!in.done()) return broken();
  return out;
}

}  // namespace

BatchSlice SliceOf(int64_t n, int rank, int ranks) {
  EDBP_CHECK(ranks >= 1 && rank >= 0 && rank < ranks && n >= 0);
  const int64_t base = n / ranks, extra = n % ranks;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

data::Batch TakeSlice(const data::Batch& batch, BatchSlice slice) {
  EDBP_CHECK(slice.begin >= 0 && slice.begin <= slice.end && slice.end <= batch.size);
  data::Batch out;
  out.size = slice.size();
  out.frames = batch.frames;
  const size_t per_sample =
      batch.size > 0 ? batch.images.size() / static_cast<size_t>(batch.size) : 0;
  out.images.assign(batch.images.begin() + slice.begin * per_sample,
                    batch.images.begin() + slice.end * per_sample);
  out.labels.assign(batch.labels.begin() + slice.begin, batch.labels.begin() + slice.end);
  if (!batch.indices.empty()) {
    out.indices.assign(batch.indices.begin() + slice.begin,
                       batch.indices.begin() + slice.end);
  }
  return out;
}

GradientSync::GradientSync(dist::Communicator* comm, std::vector<Parameter> params)
    : comm_(comm), params_(std::move(params)) {
  EDBP_CHECK(comm_ != nullptr);
  for (const Parameter& p : params_) numel_ += p.value.numel();
}

int64_t GradientSync::bytes_per_step() const {
  return numel_ * static_cast<int64_t>(sizeof(float));
}

absl::Status GradientSync::AllReduce(std::span<double> scalars) {
  const auto t0 = std::chrono::steady_clock::now();
  if (numel_ > 0) {
    kernels::Backend* backend = params_.front().grad.backend();
    if (!flat_.defined()) {
      // Allocated at the first step, when the backward's tensors are free again.
      EDBP_ASSIGN_OR_RETURN(flat_, Tensor::Empty(backend, {numel_}));
    }
    float* at = flat_.f32();
    for (const Parameter& p : params_) {
      EDBP_RETURN_IF_ERROR(backend->CopyDeviceToDevice(at, p.grad.f32(), p.grad.bytes()));
      at += p.grad.numel();
    }
    EDBP_RETURN_IF_ERROR(comm_->AllReduceSumOnDevice(backend, flat_.f32(), numel_));
    at = flat_.f32();
    for (const Parameter& p : params_) {
      EDBP_RETURN_IF_ERROR(backend->CopyDeviceToDevice(p.grad.f32(), at, p.grad.bytes()));
      at += p.grad.numel();
    }
  }
  EDBP_RETURN_IF_ERROR(
      comm_->AllReduceSum(scalars.data(), static_cast<int64_t>(scalars.size())));
  seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++steps_;
  return absl::OkStatus();
}

absl::Status GradientSync::ZeroGradients() {
  for (const Parameter& p : params_) {
    EDBP_CHECK(p.grad.defined()) << p.name << ": a parameter without a gradient tensor";
    EDBP_RETURN_IF_ERROR(p.grad.backend()->Fill(
        {.n = p.grad.numel(), .value = 0.0f, .out = p.grad.f32()}));
  }
  return absl::OkStatus();
}

absl::Status ReduceLayerSums(dist::Communicator& comm,
                             std::vector<LayerAccumulators>& layers) {
  if (comm.size() == 1) return absl::OkStatus();
  std::vector<float> counts;
  std::vector<double> sums, maxima;
  for (const LayerAccumulators& a : layers) {
    counts.insert(counts.end(), a.spike_counts.begin(), a.spike_counts.end());
    sums.insert(sums.end(), {a.spikes_seen_steps, a.grad_sum_in, a.grad_sum_out});
    maxima.insert(maxima.end(),
                  {static_cast<double>(a.backward_batches), a.grad_norm, a.grad_mean,
                   a.grad_max_abs, static_cast<double>(a.grad_batches), a.update_ratio,
                   static_cast<double>(a.updates)});
  }
  EDBP_RETURN_IF_ERROR(
      comm.AllReduceSum(counts.data(), static_cast<int64_t>(counts.size())));
  EDBP_RETURN_IF_ERROR(comm.AllReduceSum(sums.data(), static_cast<int64_t>(sums.size())));
  EDBP_RETURN_IF_ERROR(
      comm.AllReduceMax(maxima.data(), static_cast<int64_t>(maxima.size())));
  const float* c = counts.data();
  const double* s = sums.data();
  const double* m = maxima.data();
  for (LayerAccumulators& a : layers) {
    std::copy_n(c, a.spike_counts.size(), a.spike_counts.begin());
    c += a.spike_counts.size();
    a.spikes_seen_steps = s[0];
    a.grad_sum_in = s[1];
    a.grad_sum_out = s[2];
    s += 3;
    a.backward_batches = static_cast<int64_t>(m[0]);
    a.grad_norm = m[1];
    a.grad_mean = m[2];
    a.grad_max_abs = m[3];
    a.grad_batches = static_cast<int64_t>(m[4]);
    a.update_ratio = m[5];
    a.updates = static_cast<int64_t>(m[6]);
    m += 7;
  }
  return absl::OkStatus();
}

std::vector<LayerAccumulators> ZeroSampleSums(std::vector<LayerAccumulators> layers) {
  for (LayerAccumulators& a : layers) {
    std::fill(a.spike_counts.begin(), a.spike_counts.end(), 0.0f);
    a.spikes_seen_steps = 0;
    a.grad_sum_in = 0;
    a.grad_sum_out = 0;
  }
  return layers;
}

absl::Status BroadcastParameters(dist::Communicator& comm, std::span<Parameter> params,
                                 int root) {
  if (comm.size() == 1) return absl::OkStatus();
  for (Parameter& p : params) {
    std::vector<float> host(static_cast<size_t>(p.value.numel()));
    if (comm.rank() == root) {
      EDBP_RETURN_IF_ERROR(p.value.backend()->CopyDeviceToHost(host.data(), p.value.f32(),
                                                               p.value.bytes()));
    }
    EDBP_RETURN_IF_ERROR(comm.Broadcast(host.data(), p.value.bytes(), root));
    if (comm.rank() != root) {
      EDBP_RETURN_IF_ERROR(p.value.backend()->CopyHostToDevice(p.value.f32(), host.data(),
                                                               p.value.bytes()));
    }
  }
  return absl::OkStatus();
}

absl::Status BroadcastContents(dist::Communicator& comm, SafeTensors& contents,
                               int root) {
  if (comm.size() == 1) return absl::OkStatus();
  std::string bytes;
  if (comm.rank() == root) bytes = Serialize(contents);
  uint64_t size = bytes.size();
  EDBP_RETURN_IF_ERROR(comm.Broadcast(&size, sizeof(size), root));
  if (comm.rank() != root) bytes.resize(size);
  EDBP_RETURN_IF_ERROR(comm.Broadcast(bytes.data(), static_cast<int64_t>(size), root));
  if (comm.rank() == root) return absl::OkStatus();
  EDBP_ASSIGN_OR_RETURN(contents, Deserialize(bytes));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ParameterChecksum(std::span<const Parameter> params) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto mix = [&h](const void* data, size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  for (const Parameter& p : params) {
    mix(p.name.data(), p.name.size());
    mix(p.value.shape().data(), p.value.shape().size() * sizeof(int64_t));
    EDBP_ASSIGN_OR_RETURN(const std::vector<float> values, p.value.ToHost());
    mix(values.data(), values.size() * sizeof(float));
  }
  return h;
}

absl::Status ParametersAgree(dist::Communicator& comm, std::span<const Parameter> params,
                             const std::string& when) {
  if (comm.size() == 1) return absl::OkStatus();
  EDBP_ASSIGN_OR_RETURN(const uint64_t sum, ParameterChecksum(params));
  // Two 32-bit halves: exact in a double.
  double low[2] = {static_cast<double>(sum >> 32),
                   static_cast<double>(sum & 0xffffffffu)};
  double high[2] = {low[0], low[1]};
  EDBP_RETURN_IF_ERROR(comm.AllReduceMin(low, 2));
  EDBP_RETURN_IF_ERROR(comm.AllReduceMax(high, 2));
  if (low[0] == high[0] && low[1] == high[1]) return absl::OkStatus();
  const auto hex = [](const double* v) {
    return absl::StrFormat("%08x%08x", static_cast<uint32_t>(v[0]),
                           static_cast<uint32_t>(v[1]));
  };
  return absl::InternalError(absl::StrCat(
      "the ", comm.size(), " ranks disagree on the parameters ", when, " (rank ",
      comm.rank(), " has checksum ", absl::StrFormat("%016x", sum), "; the ranks' range ",
      hex(low), "..", hex(high), "): they drifted apart, the run is stopped"));
}

}  // namespace edbp::train

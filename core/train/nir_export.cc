#include "core/train/nir_export.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "core/io/safetensors.h"
#include "core/train/checkpoint.h"
#include "kernels/backend.h"
#include "kernels/registry.h"

namespace edbp::train {
namespace {

// An HDF5 handle closed by its own close function.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Writes one node's datasets into an HDF5 group; the first failure is kept and every
// later call does nothing.
class NodeWriter {
 public:
  explicit NodeWriter(std::string path) : path_(std::move(path)) {}

  hid_t Group(hid_t parent, const std::string& name) {
    if (!status_.ok()) return -1;
    const hid_t g =
        H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) Fail("group " + name);
    return g;
  }
  // A scalar variable-length UTF-8 string (h5py.string_dtype(), as nir.write stores
  // `type` and `version`).
  void String(hid_t group, const std::string& name, const std::string& value) {
    const char* p = value.c_str();
    Strings(group, name, {}, &p);
  }
  // A [rows, 2] (or scalar, rows empty) array of variable-length UTF-8 strings.
  void Strings(hid_t group, const std::string& name, const std::vector<hsize_t>& dims,
               const char* const* values) {
    if (!status_.ok()) return;
    const H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!type.ok() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0) {
      return Fail("string type of " + name);
    }
    Write(group, name, type.get(), type.get(), dims, values);
  }
  void Floats(hid_t group, const std::string& name, const std::vector<hsize_t>& dims,
              const std::vector<float>& values) {
    Write(group, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, dims, values.data());
  }
  void Int64s(hid_t group, const std::string& name, const std::vector<int64_t>& values) {
    Write(group, name, H5T_STD_I64LE, H5T_NATIVE_INT64,
          {static_cast<hsize_t>(values.size())}, values.data());
  }
  void Int64(hid_t group, const std::string& name, int64_t value) {
    Write(group, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
  }
  const absl::Status& status() const { return status_; }

 private:
  void Write(hid_t group, const std::string& name, hid_t file_type, hid_t mem_type,
             const std::vector<hsize_t>& dims, const void* data) {
    if (!status_.ok()) return;
    const H5Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                                      : H5Screate_simple(static_cast<int>(dims.size()),
                                                         dims.data(), nullptr),
                         H5Sclose);
    const H5Handle set(space.ok()
                           ? H5Dcreate2(group, name.c_str(), file_type, space.get(),
                                        H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                           : -1,
                       H5Dclose);
    if (!set.ok() ||
        H5Dwrite(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
      Fail("dataset " + name);
    }
  }
  void Fail(const std::string& what) {
    status_ = absl::FailedPreconditionError(
        absl::StrCat(path_, ": could not write the NIR file's ", what,
                     " (HDF5 error; is the disk full?)"));
  }

  std::string path_;
  absl::Status status_;
};

std::vector<hsize_t> Dims(const config::SampleShape& shape) {
  return {shape.begin(), shape.end()};
}

std::vector<float> Filled(const config::SampleShape& shape, double value) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return std::vector<float>(static_cast<size_t>(n), static_cast<float>(value));
}

// The standardised weights Ŵ of layer `index` (§4), computed by the backend's own
// WeightStdForward, as the forward computes them; `dims` the weight's shape.
absl::StatusOr<std::vector<float>> EffectiveWeights(Network& net, size_t index,
                                                    std::vector<hsize_t>* dims) {
  const std::string prefix = absl::StrCat("net.", index, ".");
  std::map<std::string, Tensor> params;
  for (Parameter& p : net.Parameters()) {
    if (p.name.rfind(prefix, 0) == 0) params[p.name.substr(prefix.size())] = p.value;
  }
  if (params.count("weight") == 0 || params.count("norm_weight") == 0 ||
      params.count("norm_bias") == 0) {
    return absl::InternalError(absl::StrCat("layer ", index, " has no weights"));
  }
  const Tensor& w = params["weight"];
  const int64_t c_out = w.dim(0);
  const int64_t m = w.numel() / c_out;
  kernels::Backend* backend = w.backend();
  EDBP_ASSIGN_OR_RETURN(Tensor w_hat, Tensor::Empty(backend, {c_out, m}));
  EDBP_ASSIGN_OR_RETURN(Tensor mean, Tensor::Empty(backend, {c_out}));
  EDBP_ASSIGN_OR_RETURN(Tensor var, Tensor::Empty(backend, {c_out}));
  EDBP_RETURN_IF_ERROR(backend->WeightStdForward({.c_out = c_out,
                                                  .m = m,
                                                  .w = w.f32(),
                                                  .g = params["norm_weight"].f32(),
                                                  .b = params["norm_bias"].f32(),
                                                  .w_hat = w_hat.f32(),
                                                  .mean = mean.f32(),
                                                  .var = var.f32()}));
  dims->assign(w.shape().begin(), w.shape().end());
  return w_hat.ToHost();
}

struct GraphBuilder {
  std::vector<std::pair<std::string, std::string>> edges;
  std::set<std::string> names;
  std::string last = "input";
  absl::Status Add(const std::string& name) {
    if (!names.insert(name).second) {
      return absl::UnimplementedError(absl::StrCat(
          "NIR export: two nodes would be named \"", name, "\"; rename the layer"));
    }
    edges.emplace_back(last, name);
    last = name;
    return absl::OkStatus();
  }
};

// Writes the graph into the open file; the first error is returned.
absl::Status WriteGraph(Network& net, hid_t file, const std::string& path) {
  const config::Config& config = net.config();
  const config::NetworkConfig& nc = config.network;
  NodeWriter out(path);
  out.String(file, "version", kNirVersion);
  const H5Handle node(out.Group(file, "node"), H5Gclose);
  out.String(node.get(), "type", "NIRGraph");
  const H5Handle nodes(out.Group(node.get(), "nodes"), H5Gclose);
  GraphBuilder graph;
  graph.names = {"input", "output"};
  {
    const H5Handle g(out.Group(nodes.get(), "input"), H5Gclose);
    out.String(g.get(), "type", "Input");
    out.Int64s(g.get(), "shape", config.input_shape);
  }
  config::SampleShape shape = config.input_shape;  // of the graph's last node
  for (size_t i = 0; i < config.layers.size(); ++i) {
    const config::LayerConfig& layer = config.layers[i];
    const bool conv = layer.type == config::LayerType::kConv;
    const bool linear = layer.type == config::LayerType::kLinear;
    if (layer.type == config::LayerType::kDropout) continue;  // identity at inference
    if (layer.type == config::LayerType::kPooling) {
      if (nc.pooling_type == config::PoolingType::kMax) {
        return absl::UnimplementedError(absl::StrCat(
            "NIR export: layer ", layer.name,
            ": pooling_type max has no NIR node (avg and adjusted_avg export as "
            "AvgPool2d)"));
      }
      EDBP_RETURN_IF_ERROR(graph.Add(layer.name));
      const H5Handle g(out.Group(nodes.get(), layer.name), H5Gclose);
      out.String(g.get(), "type", "AvgPool2d");
      const std::vector<int64_t> kernel(layer.kernel_size.begin(),
                                        layer.kernel_size.end());
      out.Int64s(g.get(), "kernel_size", kernel);
      out.Int64s(g.get(), "stride", kernel);
      out.Int64s(g.get(), "padding", {0, 0});
      shape = layer.out_shape;
      continue;
    }
    if (!conv && !linear) {
      return absl::UnimplementedError(
          absl::StrCat("NIR export: layer ", layer.name,
                       ": residual blocks are not exported (NIR would need the sum of "
                       "two branches of spikes, which edbp's block output is not)"));
    }
    if (linear && shape.size() == 3) {
      const std::string name = layer.name + ".flatten";
      EDBP_RETURN_IF_ERROR(graph.Add(name));
      const H5Handle g(out.Group(nodes.get(), name), H5Gclose);
      out.String(g.get(), "type", "Flatten");
      out.Int64(g.get(), "start_dim", 0);
      out.Int64(g.get(), "end_dim", -1);
      out.Int64s(g.get(), "input_type", shape);
    }
    std::vector<hsize_t> wdims;
    EDBP_ASSIGN_OR_RETURN(std::vector<float> w, EffectiveWeights(net, i, &wdims));
    const std::string synapse = layer.name + ".synapse";
    EDBP_RETURN_IF_ERROR(graph.Add(synapse));
    {
      const H5Handle g(out.Group(nodes.get(), synapse), H5Gclose);
      if (conv) {
        out.String(g.get(), "type", "Conv2d");
        out.Int64s(g.get(), "input_shape", {shape[1], shape[2]});
        out.Floats(g.get(), "weight", wdims, w);
        out.Int64s(g.get(), "stride", {layer.stride[0], layer.stride[1]});
        out.Int64s(g.get(), "padding", {layer.padding[0], layer.padding[1]});
        out.Int64s(g.get(), "dilation", {layer.dilation[0], layer.dilation[1]});
        out.Int64(g.get(), "groups", 1);
        out.Floats(g.get(), "bias", {wdims[0]}, std::vector<float>(wdims[0], 0.0f));
      } else {
        out.String(g.get(), "type", "Affine");
        out.Floats(g.get(), "weight", wdims, w);
        out.Floats(g.get(), "bias", {wdims[0]}, std::vector<float>(wdims[0], 0.0f));
      }
    }
    shape = layer.out_shape;
    const NirNeuron n = NirNeuronOf(nc, layer.threshold);
    const std::string lif = layer.name + ".lif";
    EDBP_RETURN_IF_ERROR(graph.Add(lif));
    const H5Handle g(out.Group(nodes.get(), lif), H5Gclose);
    out.String(g.get(), "type", "CubaLIF");
    out.Floats(g.get(), "tau_mem", Dims(shape), Filled(shape, n.tau_mem));
    out.Floats(g.get(), "tau_syn", Dims(shape), Filled(shape, n.tau_syn));
    out.Floats(g.get(), "r", Dims(shape), Filled(shape, n.r));
    out.Floats(g.get(), "v_leak", Dims(shape), Filled(shape, 0.0));
    out.Floats(g.get(), "v_threshold", Dims(shape), Filled(shape, n.v_threshold));
    out.Floats(g.get(), "v_reset", Dims(shape), Filled(shape, 0.0));
    out.Floats(g.get(), "w_in", Dims(shape), Filled(shape, n.w_in));
  }
  graph.names.erase("output");
  EDBP_RETURN_IF_ERROR(graph.Add("output"));
  {
    const H5Handle g(out.Group(nodes.get(), "output"), H5Gclose);
    out.String(g.get(), "type", "Output");
    out.Int64s(g.get(), "shape", shape);
  }
  std::vector<const char*> edges;
  for (const auto& [src, dst] : graph.edges) {
    edges.push_back(src.c_str());
    edges.push_back(dst.c_str());
  }
  out.Strings(node.get(), "edges", {graph.edges.size(), 2}, edges.data());
  return out.status();
}

}  // namespace

NirNeuron NirNeuronOf(const config::NetworkConfig& network, float threshold) {
  // §15: the float32 θ of the forward (§1, §2), the exact decay over dt = 1.
  const double theta_m = static_cast<float>(1.0 / network.tau_m);
  const double theta_s = static_cast<float>(1.0 / network.tau_s);
  NirNeuron n;
  n.tau_mem = -1.0 / std::log1p(-theta_m);
  n.tau_syn = -1.0 / std::log1p(-theta_s);
  n.r = 1.0;
  n.w_in = (n.tau_mem - n.tau_syn) * theta_s / (theta_s - theta_m);
  n.v_threshold = threshold;
  return n;
}

absl::Status ExportNirFromCheckpoint(const std::string& checkpoint,
                                     const std::string& path) {
  EDBP_ASSIGN_OR_RETURN(SafeTensors file, ReadSafeTensors(checkpoint));
  const auto text = file.metadata.find("config");
  if (text == file.metadata.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(checkpoint, ": no config stored (not an edbp checkpoint?)"));
  }
  absl::StatusOr<config::Config> config =
      config::ParseConfig(text->second, checkpoint + "#config");
  if (!config.ok()) return config.status();
  EDBP_ASSIGN_OR_RETURN(kernels::Backend * cpu, kernels::GetBackend(kernels::Device{}));
  EDBP_ASSIGN_OR_RETURN(std::unique_ptr<Network> net,
                        Network::Create(*config, cpu, /*seed=*/0));
  EDBP_RETURN_IF_ERROR(RestoreWeights(checkpoint, file, *net));
  return ExportNir(*net, path);
}

absl::Status ExportNir(Network& net, const std::string& path) {
  if (net.config().network.forward_type == config::ForwardType::kNonleaky) {
    return absl::UnimplementedError(
        "NIR export: forward_type nonleaky has no CubaLIF equivalent (only leaky "
        "networks export)");
  }
  const std::string partial = path + ".partial";
  // Created once with open(2) first, for an error that says why (HDF5's does not).
  const int fd = ::open(partial.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  ::close(fd);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors come back as statuses
  absl::Status status;
  {
    const H5Handle file(
        H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    status = file.ok() ? WriteGraph(net, file.get(), path)
                       : absl::FailedPreconditionError(
                             absl::StrCat("cannot create the HDF5 file ", partial));
    if (status.ok() && H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
      status = absl::FailedPreconditionError(
          absl::StrCat("cannot write ", path, " (is the disk full?)"));
    }
  }
  std::error_code ec;
  if (status.ok()) {
    std::filesystem::rename(partial, path, ec);
    if (ec) {
      status = absl::FailedPreconditionError(
          absl::StrCat("cannot move ", partial, " to ", path, ": ", ec.message()));
    }
  }
  if (!status.ok()) std::filesystem::remove(partial, ec);
  return status;
}

}  // namespace edbp::train

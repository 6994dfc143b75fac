// NIR export (ALGORITHM.md §14): the file of configs/small.yaml read back with the HDF5
// C API (layout, node types, shapes, edges, one standardised weight recomputed here,
// the CubaLIF constants worked out by hand), and the refusals: what NIR cannot hold, an
// unwritable path, a checkpoint of another network or without a config.
#include "core/train/nir_export.h"

#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "core/network.h"
#include "core/train/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/temp_dir.h"
#include "tests/test_util.h"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;
using testing::Cpu;
using ::testing::HasSubstr;

std::unique_ptr<Network> Build(const std::string& yaml, const std::string& name) {
  auto c = config::ParseConfig(yaml, name);
  EXPECT_TRUE(c.ok()) << c.status();
  auto net = Network::Create(*c, Cpu(), 7);
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(*net);
}

std::unique_ptr<Network> Small() {
  auto c = config::LoadConfigFile("configs/small.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  auto net = Network::Create(*c, Cpu(), 7);
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(*net);
}

// The HDF5 reads the test needs.
class H5File {
 public:
  explicit H5File(const std::string& path)
      : id_(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {}
  ~H5File() {
    if (id_ >= 0) H5Fclose(id_);
  }
  bool ok() const { return id_ >= 0; }
  bool Exists(const std::string& path) const {
    return H5Lexists(id_, path.c_str(), H5P_DEFAULT) > 0;
  }
  std::vector<hsize_t> Dims(const std::string& path) const {
    const hid_t d = H5Dopen2(id_, path.c_str(), H5P_DEFAULT);
    const hid_t s = H5Dget_space(d);
    std::vector<hsize_t> dims(static_cast<size_t>(H5Sget_simple_extent_ndims(s)));
    H5Sget_simple_extent_dims(s, dims.data(), nullptr);
    H5Sclose(s);
    H5Dclose(d);
    return dims;
  }
  // Variable-length strings of a dataset, with the file type's properties checked.
  std::vector<std::string> Strings(const std::string& path) const {
    const hid_t d = H5Dopen2(id_, path.c_str(), H5P_DEFAULT);
    const hid_t t = H5Dget_type(d);
    EXPECT_EQ(H5Tget_class(t), H5T_STRING) << path;
    EXPECT_GT(H5Tis_variable_str(t), 0) << path;
    EXPECT_EQ(H5Tget_cset(t), H5T_CSET_UTF8) << path;
    const hid_t s = H5Dget_space(d);
    const hssize_t n = H5Sget_simple_extent_npoints(s);
    std::vector<char*> raw(static_cast<size_t>(n));
    H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data());
    std::vector<std::string> out(raw.begin(), raw.end());
    H5Dvlen_reclaim(t, s, H5P_DEFAULT, raw.data());
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return out;
  }
  std::vector<float> Floats(const std::string& path) const {
    return Read<float>(path, H5T_NATIVE_FLOAT, H5T_FLOAT, 4);
  }
  std::vector<int64_t> Ints(const std::string& path) const {
    return Read<int64_t>(path, H5T_NATIVE_INT64, H5T_INTEGER, 8);
  }

 private:
  template <typename T>
  std::vector<T> Read(const std::string& path, hid_t mem, H5T_class_t cls,
                      size_t size) const {
    const hid_t d = H5Dopen2(id_, path.c_str(), H5P_DEFAULT);
    const hid_t t = H5Dget_type(d);
    EXPECT_EQ(H5Tget_class(t), cls) << path;
    EXPECT_EQ(H5Tget_size(t), size) << path;  // float32 / int64, as nir.write stores
    const hid_t s = H5Dget_space(d);
    std::vector<T> out(static_cast<size_t>(H5Sget_simple_extent_npoints(s)));
    H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return out;
  }
  hid_t id_;
};

TEST(NirNeuron, TheMappingOfTheSmallConfigWorkedOutByHand) {
  config::NetworkConfig n;
  n.tau_m = 5;
  n.tau_s = 3;
  const NirNeuron lif = NirNeuronOf(n, 1.5f);
  // tau_mem = -1/ln(0.8) = 4.48142; tau_syn = -1/ln(2/3) = 2.46630 (θ in float32).
  EXPECT_NEAR(lif.tau_mem, 4.481420, 1e-5);
  EXPECT_NEAR(lif.tau_syn, 2.466304, 1e-5);
  // w_in = (4.48142 - 2.46630)·(1/3)/(1/3 - 1/5) = 2.01512·2.5 = 5.03779.
  EXPECT_NEAR(lif.w_in, 5.037790, 1e-4);
  EXPECT_EQ(lif.r, 1.0);
  EXPECT_EQ(lif.v_threshold, 1.5);
  // The one-step decays are edbp's 1 - θ.
  EXPECT_NEAR(std::exp(-1 / lif.tau_mem), 0.8, 1e-7);
  EXPECT_NEAR(std::exp(-1 / lif.tau_syn), 2.0 / 3.0, 1e-7);
}

TEST(ExportNir, TheSmallConfigReadsBackWithItsNodesShapesEdgesAndWeights) {
  testing::TempDir tmp("nir");
  const std::unique_ptr<Network> net = Small();
  const std::string path = (tmp / "small.nir").string();
  ASSERT_TRUE(ExportNir(*net, path).ok());
  EXPECT_FALSE(fs::exists(path + ".partial"));
  H5File f(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.Strings("/version"), (std::vector<std::string>{kNirVersion}));
  EXPECT_EQ(f.Strings("/node/type"), (std::vector<std::string>{"NIRGraph"}));
  const std::vector<std::pair<std::string, std::string>> nodes = {
      {"input", "Input"},           {"conv_1.synapse", "Conv2d"},
      {"conv_1.lif", "CubaLIF"},    {"pooling_1", "AvgPool2d"},
      {"conv_2.synapse", "Conv2d"}, {"conv_2.lif", "CubaLIF"},
      {"pooling_2", "AvgPool2d"},   {"FC_1.flatten", "Flatten"},
      {"FC_1.synapse", "Affine"},   {"FC_1.lif", "CubaLIF"},
      {"output.synapse", "Affine"}, {"output.lif", "CubaLIF"},
      {"output", "Output"}};
  for (const auto& [name, type] : nodes) {
    EXPECT_EQ(f.Strings("/node/nodes/" + name + "/type"),
              (std::vector<std::string>{type}))
        << name;
  }
  // One chain: input -> conv_1.synapse -> ... -> output, as [12, 2].
  EXPECT_EQ(f.Dims("/node/edges"), (std::vector<hsize_t>{12, 2}));
  const std::vector<std::string> edges = f.Strings("/node/edges");
  for (size_t e = 0; e + 1 < nodes.size(); ++e) {
    EXPECT_EQ(edges[2 * e], nodes[e].first);
    EXPECT_EQ(edges[2 * e + 1], nodes[e + 1].first);
  }
  EXPECT_EQ(f.Ints("/node/nodes/input/shape"), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(f.Ints("/node/nodes/output/shape"), (std::vector<int64_t>{10}));
  // Conv2d: 28x28 in, 15 kernels of 1x5x5, stride 1, padding 0, dilation 1, 1 group.
  const std::string c1 = "/node/nodes/conv_1.synapse/";
  EXPECT_EQ(f.Ints(c1 + "input_shape"), (std::vector<int64_t>{28, 28}));
  EXPECT_EQ(f.Dims(c1 + "weight"), (std::vector<hsize_t>{15, 1, 5, 5}));
  EXPECT_EQ(f.Ints(c1 + "stride"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(f.Ints(c1 + "padding"), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(f.Ints(c1 + "dilation"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(f.Ints(c1 + "groups"), (std::vector<int64_t>{1}));
  EXPECT_EQ(f.Floats(c1 + "bias"), std::vector<float>(15, 0.0f));
  // The neurons of conv_1: 15x24x24, every parameter of that shape.
  for (const char* p :
       {"tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in"}) {
    EXPECT_EQ(f.Dims(std::string("/node/nodes/conv_1.lif/") + p),
              (std::vector<hsize_t>{15, 24, 24}))
        << p;
  }
  EXPECT_FLOAT_EQ(f.Floats("/node/nodes/conv_1.lif/tau_mem")[100], 4.481420f);
  EXPECT_FLOAT_EQ(f.Floats("/node/nodes/conv_1.lif/v_threshold")[0], 1.0f);
  EXPECT_EQ(f.Ints("/node/nodes/pooling_1/kernel_size"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f.Ints("/node/nodes/pooling_1/stride"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f.Ints("/node/nodes/pooling_1/padding"), (std::vector<int64_t>{0, 0}));
  // Flatten of 40x4x4 = 640, then the Affine of FC_1 [300, 640], the output's [10, 300].
  EXPECT_EQ(f.Ints("/node/nodes/FC_1.flatten/input_type"),
            (std::vector<int64_t>{40, 4, 4}));
  EXPECT_EQ(f.Ints("/node/nodes/FC_1.flatten/start_dim"), (std::vector<int64_t>{0}));
  EXPECT_EQ(f.Ints("/node/nodes/FC_1.flatten/end_dim"), (std::vector<int64_t>{-1}));
  EXPECT_EQ(f.Dims("/node/nodes/FC_1.synapse/weight"), (std::vector<hsize_t>{300, 640}));
  EXPECT_EQ(f.Dims("/node/nodes/output.synapse/weight"), (std::vector<hsize_t>{10, 300}));
  EXPECT_EQ(f.Dims("/node/nodes/output.lif/v_threshold"), (std::vector<hsize_t>{10}));

  // One weight, standardised here from W, g, b (§4): channel 3 of conv_1, g = 2, b =
  // 0.25.
  std::vector<float> w;
  const std::vector<float> g(15, 2.0f), b(15, 0.25f);
  for (Parameter& p : net->Parameters()) {
    if (p.name == "net.0.weight") w = testing::Host(p.value);
    if (p.name == "net.0.norm_weight" || p.name == "net.0.norm_bias") {
      const std::vector<float>& v = p.name == "net.0.norm_weight" ? g : b;
      ASSERT_TRUE(Cpu()->CopyHostToDevice(p.value.f32(), v.data(), v.size() * 4).ok());
    }
  }
  ASSERT_TRUE(ExportNir(*net, path).ok());
  H5File again(path);
  const std::vector<float> exported = again.Floats(c1 + "weight");
  double mean = 0, sq = 0;
  for (int k = 0; k < 25; ++k) mean += w[3 * 25 + k] / 25.0;
  for (int k = 0; k < 25; ++k) sq += (w[3 * 25 + k] - mean) * (w[3 * 25 + k] - mean);
  const double expected = (w[3 * 25 + 7] - mean) / std::sqrt(sq / 24 + 1e-5) * 2 + 0.25;
  EXPECT_NEAR(exported[3 * 25 + 7], expected, 1e-5);
  EXPECT_NE(exported[3 * 25 + 7], w[3 * 25 + 7]);
}

const char* const kSmallSynthetic = R"(Network:
  epochs: 1
  batch_size: 2
  n_steps: 4
  dataset: Synthetic
  input_shape: [1, 8, 8]
  optimizer: AdamW
  lr: 0.001
  loss: count
  gradient_type: exponential
  pooling_type: POOLING
  n_class: 3
  desired_count: 3
  undesired_count: 1
  tau_m: 5
  tau_s: 3
  tau_grad: 2.5
Layers:
  conv_1:
    type: conv
    in_channels: 1
    out_channels: 2
    kernel_size: 3
    threshold: 1
  pool:
    type: pooling
    kernel_size: 2
  drop:
    type: dropout
    p: 0.2
  output:
    type: linear
    n_inputs: 18
    n_outputs: 3
    threshold: 1
)";

std::string Synthetic(const std::string& pooling) {
  std::string yaml = kSmallSynthetic;
  yaml.replace(yaml.find("POOLING"), 7, pooling);
  return yaml;
}

TEST(ExportNir, DropoutDisappearsAndWhatNirCannotHoldIsRefused) {
  testing::TempDir tmp("nir");
  const std::string path = (tmp / "n.nir").string();
  // Dropout is no node: input, conv, lif, pool, flatten, affine, lif, output.
  const std::unique_ptr<Network> avg = Build(Synthetic("avg"), "avg");
  ASSERT_TRUE(ExportNir(*avg, path).ok());
  H5File f(path);
  EXPECT_EQ(f.Dims("/node/edges"), (std::vector<hsize_t>{7, 2}));
  EXPECT_FALSE(f.Exists("/node/nodes/drop"));
  EXPECT_EQ(f.Ints("/node/nodes/output.flatten/input_type"),
            (std::vector<int64_t>{2, 3, 3}));

  const std::unique_ptr<Network> max = Build(Synthetic("max"), "max");
  const absl::Status s = ExportNir(*max, (tmp / "max.nir").string());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("layer pool: pooling_type max"));
  EXPECT_FALSE(fs::exists(tmp / "max.nir"));
  EXPECT_FALSE(fs::exists(tmp / "max.nir.partial"));

  auto resnet = config::LoadConfigFile("configs/resnet.yaml");
  ASSERT_TRUE(resnet.ok()) << resnet.status();
  auto rnet = Network::Create(*resnet, Cpu(), 1);
  ASSERT_TRUE(rnet.ok());
  const absl::Status r = ExportNir(**rnet, (tmp / "r.nir").string());
  EXPECT_EQ(r.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(r.message(), HasSubstr("residual blocks are not exported"));

  std::string nonleaky = Synthetic("avg");
  nonleaky.replace(nonleaky.find("gradient_type: exponential"), 26,
                   "gradient_type: exponential\n  forward_type: nonleaky");
  const std::unique_ptr<Network> nl = Build(nonleaky, "nonleaky");
  EXPECT_EQ(ExportNir(*nl, (tmp / "nl.nir").string()).code(),
            absl::StatusCode::kUnimplemented);
}

TEST(ExportNir, AnUnwritablePathAndAForeignCheckpointAreClearErrors) {
  testing::TempDir tmp("nir");
  const std::unique_ptr<Network> net = Build(Synthetic("avg"), "avg");
  const std::string nowhere = (tmp / "no" / "such" / "dir" / "n.nir").string();
  const absl::Status s = ExportNir(*net, nowhere);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr(nowhere));
  EXPECT_THAT(s.message(), HasSubstr("No such file or directory"));

  // A checkpoint of configs/small.yaml into the synthetic network: the tensor is named.
  const std::string ckpt = (tmp / "small.safetensors").string();
  SafeTensors small;
  for (const Parameter& p : Small()->Parameters()) {
    small.tensors[p.name] = {p.value.shape(), testing::Host(p.value)};
  }
  ASSERT_TRUE(WriteSafeTensors(ckpt, small).ok());
  const absl::Status load = LoadWeights(ckpt, *net);
  EXPECT_EQ(load.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(load.message(), HasSubstr("net.0.weight"));
  // Without a stored config, the checkpoint says so; with one, it converts.
  const absl::Status bare = ExportNirFromCheckpoint(ckpt, (tmp / "x.nir").string());
  EXPECT_EQ(bare.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bare.message(), HasSubstr("no config stored"));
  auto text = config::LoadConfigFile("configs/small.yaml");
  ASSERT_TRUE(text.ok());
  small.metadata["config"] = text->source_text;
  ASSERT_TRUE(WriteSafeTensors(ckpt, small).ok());
  ASSERT_TRUE(ExportNirFromCheckpoint(ckpt, (tmp / "x.nir").string()).ok());
  EXPECT_EQ(H5File((tmp / "x.nir").string()).Dims("/node/nodes/FC_1.synapse/weight"),
            (std::vector<hsize_t>{300, 640}));
}

}  // namespace
}  // namespace edbp::train

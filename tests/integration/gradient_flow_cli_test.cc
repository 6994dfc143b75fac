// edbp-train --gradient-flow end to end (ALGORITHM.md §14): the report of the
// reference-small network's first batch against that batch's --inspect-step (spikes,
// ‖dL/dW‖, loss) and against Σ dL/dt of the output layer recomputed here from the
// count loss; the gradient-sum invariant to 1e-5; the same bytes from the same seed;
// the page needs no network; hostile command lines. Needs Debian's
// dataset-fashion-mnist; skips with a message where it is absent.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/io/safetensors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kData[] = "/usr/share/datasets/fashion-mnist";
constexpr char kConfig[] = "tests/data/reference-small/config.yaml";
constexpr char kInit[] = "tests/data/reference-small/init.safetensors";

class GradientFlowCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::path(kData) / "train-images-idx3-ubyte.gz")) {
      GTEST_SKIP() << "Fashion-MNIST is not installed in " << kData
                   << " (scripts/install-deps.sh installs dataset-fashion-mnist)";
    }
    dir_ = fs::temp_directory_path() /
           ("edbp_gradient_flow_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
            "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // edbp-train with `args`, run in `cwd` (default: the source root, as ctest runs it).
  static testing::CommandResult Train(const std::string& args,
                                      const std::string& cwd = "") {
    return testing::RunCommand((cwd.empty() ? "" : "cd " + cwd + " && ") +
                               std::string(EDBP_TRAIN_BIN) + " " + args);
  }
  // --gradient-flow of the reference-small network on its initial weights.
  static std::string FlowArgs(const std::string& out, const std::string& extra = "") {
    const std::string root = fs::current_path().string();
    return root + "/" + kConfig + " --init-weights " + root + "/" + kInit +
           " --gradient-flow " + out + " " + extra;
  }

  fs::path dir_;
};

double L2(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

TEST_F(GradientFlowCli, MatchesTheInspectedStepAndKeepsTheInvariant) {
  // Run in an empty directory: the two files must be all it writes.
  const testing::CommandResult r = Train(FlowArgs("flow"), dir_.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrote flow.json and flow.html"));
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"flow.html", "flow.json"}));

  const testing::CommandResult inspect =
      Train(std::string(kConfig) + " --init-weights " + kInit + " --inspect-step " +
            Path("step.safetensors"));
  ASSERT_EQ(inspect.code, 0) << inspect.output;
  auto step = ReadSafeTensors(Path("step.safetensors"));
  ASSERT_TRUE(step.ok()) << step.status();

  const nlohmann::json j = nlohmann::json::parse(testing::ReadFile(Path("flow.json")));
  EXPECT_EQ(j["format"], "edbp-gradient-flow");
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["split"], "train");
  EXPECT_EQ(j["batch"], 0);
  EXPECT_EQ(j["batches"], 1200);  // 60,000 training images in batches of 50
  EXPECT_EQ(j["batch_size"], 50);
  const int T = 5, B = 50, C = 10;
  EXPECT_EQ(j["time_steps"], T);
  EXPECT_NEAR(j["loss"].get<double>(), step->tensors.at("loss").data[0], 1e-4);

  // Shape: the four spiking layers × T steps.
  const auto& layers = j["layers"];
  ASSERT_EQ(layers.size(), 4u);
  const std::vector<std::string> names = {"conv_1", "conv_2", "FC_1", "output"};
  const std::vector<int> index = {0, 2, 4, 5};
  const std::vector<int> neurons = {15 * 24 * 24, 40 * 8 * 8, 300, 10};
  for (size_t i = 0; i < 4; ++i) {
    const auto& l = layers[i];
    EXPECT_EQ(l["name"], names[i]);
    EXPECT_EQ(l["index"], index[i]);
    EXPECT_EQ(l["type"], i < 2 ? "conv" : "linear");
    EXPECT_EQ(l["neurons"], neurons[i]);
    EXPECT_EQ(l["grad_in"].size(), static_cast<size_t>(T)) << names[i];
    EXPECT_EQ(l["spikes"].size(), static_cast<size_t>(T)) << names[i];
    if (i == 0) {
      EXPECT_TRUE(l["grad_out"].is_null()) << "the first layer passes nothing down";
    } else {
      EXPECT_EQ(l["grad_out"].size(), static_cast<size_t>(T)) << names[i];
    }
    // ‖dL/dW‖ is the norm of the inspected step's gradient.
    const std::string key = "net." + std::to_string(index[i]) + ".weight.grad";
    const double norm = L2(step->tensors.at(key).data);
    ASSERT_GT(norm, 0) << key;
    EXPECT_NEAR(l["grad_norm"].get<double>(), norm, 1e-6 * norm) << key;
    EXPECT_GE(l["silent_fraction"].get<double>(), 0);
    EXPECT_LE(l["silent_fraction"].get<double>(), 1);
  }

  // The output layer by hand: spikes per step from the raw outputs, silent classes, and
  // Σ dL/dt in[t] = Σ_{b,c} -δ[b,c] · o[t,b,c] with the count loss of §8 (desired 5,
  // undesired 1, T = 5, loss_reverse) on the injected outputs.
  const std::vector<float>& raw = step->tensors.at("outputs_raw").data;
  const std::vector<float>& o = step->tensors.at("outputs").data;
  auto ds = data::ReadIdx(std::string(kData) + "/train-images-idx3-ubyte.gz",
                          std::string(kData) + "/train-labels-idx1-ubyte.gz", B);
  ASSERT_TRUE(ds.ok()) << ds.status();
  std::vector<double> delta(B * C);
  std::vector<int> fired(C, 0);
  for (int b = 0; b < B; ++b) {
    for (int c = 0; c < C; ++c) {
      double count = 0;
      for (int t = 0; t < T; ++t) {
        count += o[(t * B + b) * C + c];
        fired[c] += raw[(t * B + b) * C + c] != 0;
      }
      const bool desired = c == ds->labels[b];
      double d = (count - (desired ? 5 : 1)) / T;
      if ((desired && d > 0) || (!desired && d < 0)) d = 0;
      delta[b * C + c] = d;
    }
  }
  const auto& out = layers[3];
  int64_t total_spikes = 0;
  for (int t = 0; t < T; ++t) {
    int64_t spikes = 0;
    double in = 0;
    for (int i = 0; i < B * C; ++i) {
      spikes += raw[t * B * C + i] != 0;
      in += -delta[i] * o[t * B * C + i];
    }
    total_spikes += spikes;
    EXPECT_EQ(out["spikes"][t], spikes) << "t=" << t;
    EXPECT_NEAR(out["grad_in"][t].get<double>(), in, 1e-5 * std::max(1.0, std::fabs(in)))
        << "t=" << t;
  }
  EXPECT_GT(total_spikes, 0);
  EXPECT_EQ(out["silent_neurons"], std::count(fired.begin(), fired.end(), 0));

  // The invariant, pair by pair, to 1e-5 (through adjusted pooling twice, then direct).
  const auto& pairs = j["invariant"];
  ASSERT_EQ(pairs.size(), 3u);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"conv_2", "conv_1"}, {"FC_1", "conv_2"}, {"output", "FC_1"}};
  for (size_t k = 0; k < 3; ++k) {
    const auto& p = pairs[k];
    EXPECT_EQ(p["upper"], want[k].first);
    EXPECT_EQ(p["lower"], want[k].second);
    EXPECT_EQ(p["through"].size(), k < 2 ? 1u : 0u);
    const double down = p["passed_down"], in = p["entering"];
    ASSERT_NE(in, 0) << want[k].first << ": no gradient reached the layer below";
    EXPECT_LE(std::fabs(down - in), 1e-5 * std::fabs(in)) << want[k].first;
    EXPECT_LE(p["relative_difference"].get<double>(), 1e-5) << want[k].first;
    EXPECT_LE(p["max_step_relative_difference"].get<double>(), 1e-5) << want[k].first;
    // The pair's numbers are the layers' own.
    double sum_out = 0, sum_in = 0;
    for (int t = 0; t < T; ++t) {
      sum_out += layers[k + 1]["grad_out"][t].get<double>();
      sum_in += layers[k]["grad_in"][t].get<double>();
    }
    EXPECT_DOUBLE_EQ(down, sum_out);
    EXPECT_DOUBLE_EQ(in, sum_in);
  }

  // The page: the report inside, every script inline, nothing fetched.
  const std::string html = testing::ReadFile(Path("flow.html"));
  EXPECT_THAT(html,
              HasSubstr("<script type=\"application/json\" id=\"gradient-flow-data\">"));
  EXPECT_THAT(html, HasSubstr("EdbpCharts"));
  EXPECT_THAT(html, ::testing::Not(HasSubstr(" src=")));
  EXPECT_THAT(html, ::testing::Not(HasSubstr(" href=\"http")));
}

TEST_F(GradientFlowCli, SameSeedSameBytesAndTheBatchIsSelectable) {
  ASSERT_EQ(Train(FlowArgs(Path("a"), "--seed 7")).code, 0);
  ASSERT_EQ(Train(FlowArgs(Path("b.json"), "--seed 7")).code, 0);  // OUT may end in .json
  EXPECT_EQ(testing::ReadFile(Path("a.json")), testing::ReadFile(Path("b.json")));
  EXPECT_EQ(testing::ReadFile(Path("a.html")), testing::ReadFile(Path("b.html")));

  const testing::CommandResult second =
      Train(FlowArgs(Path("c"), "--gradient-flow-batch 1"));
  ASSERT_EQ(second.code, 0) << second.output;
  const nlohmann::json a = nlohmann::json::parse(testing::ReadFile(Path("a.json")));
  const nlohmann::json c = nlohmann::json::parse(testing::ReadFile(Path("c.json")));
  EXPECT_EQ(c["batch"], 1);
  EXPECT_NE(a["loss"], c["loss"]);

  const testing::CommandResult past =
      Train(FlowArgs(Path("d"), "--gradient-flow-batch 1200"));
  EXPECT_EQ(past.code, 1);
  EXPECT_THAT(past.output, HasSubstr("--gradient-flow-batch: expected 0 to 1199"));
  EXPECT_FALSE(fs::exists(Path("d.json")));
}

TEST_F(GradientFlowCli, HostileInputIsAClearError) {
  const std::string root = fs::current_path().string();
  const std::string config = root + "/" + kConfig;
  // A checkpoint that does not exist.
  testing::CommandResult r =
      Train(config + " --init-weights " + Path("none.safetensors") + " --gradient-flow " +
            Path("f"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(Path("none.safetensors")));
  // A checkpoint of another network (one linear layer 784 → 10).
  SafeTensors other;
  other.tensors["net.0.weight"] = {{10, 784}, std::vector<float>(7840, 0.01f)};
  other.tensors["net.0.norm_weight"] = {{10, 1}, std::vector<float>(10, 1)};
  other.tensors["net.0.norm_bias"] = {{10, 1}, std::vector<float>(10, 0)};
  ASSERT_TRUE(WriteSafeTensors(Path("other.safetensors"), other).ok());
  r = Train(config + " --init-weights " + Path("other.safetensors") +
            " --gradient-flow " + Path("f"));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("net.0.weight"));
  // An OUT whose directory does not exist: refused before any work.
  r = Train(FlowArgs(Path("missing/f")));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("directory " + Path("missing") + " does not exist"));
  // OUT is a directory.
  fs::create_directories(Path("f.json"));
  r = Train(FlowArgs(Path("f")));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is a directory"));
  EXPECT_FALSE(fs::exists(Path("f.html")));
  // Modes and flags it does not combine with: usage errors.
  for (const std::string& extra : std::vector<std::string>{
           "--evaluate", "--validate", "--inspect-step " + Path("s.safetensors"),
           "--metrics-jsonl " + Path("m.jsonl"), "--out-dir " + Path("run"),
           "--report-to unix:" + Path("sock") + " --job-id 1", "--checkpoint-every 2"}) {
    r = Train(FlowArgs(Path("g"), extra));
    EXPECT_EQ(r.code, 2) << extra << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("--gradient-flow cannot be combined with")) << extra;
  }
  r = Train(config + " --gradient-flow-batch 3");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--gradient-flow-batch needs --gradient-flow"));
  r = Train(FlowArgs(Path("g"), "--gradient-flow-batch -1"));
  EXPECT_EQ(r.code, 2) << r.output;
  for (const char* name : {"g.json", "g.html", "s.safetensors", "m.jsonl", "run"}) {
    EXPECT_FALSE(fs::exists(Path(name))) << name;
  }
}

}  // namespace
}  // namespace edbp

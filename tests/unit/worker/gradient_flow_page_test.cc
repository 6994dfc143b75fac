// The files of --gradient-flow (worker/gradient_flow_page.h) from a report made here:
// the JSON schema's fields, the page's inlined scripts and its escaping, the output
// checks and the OUT naming.
#include "worker/gradient_flow_page.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"

namespace edbp::worker {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

train::GradientFlowReport SampleReport() {
  train::GradientFlowReport r;
  r.config = "nets/</script><b>x</b>.yaml";
  r.weights = "w.safetensors";
  r.seed = 3;
  r.batch = 1;
  r.batches = 4;
  r.batch_size = 2;
  r.time_steps = 2;
  r.loss = 1.5;
  train::GradientFlowLayer a;
  a.name = "conv_1";
  a.type = "conv";
  a.neurons = 8;
  a.grad_in = {-0.25, 0.5};
  a.spikes = {3, 0};
  a.silent_neurons = 6;
  a.silent_fraction = 0.75;
  a.grad_norm = 2;
  a.weight_norm = 4;
  train::GradientFlowLayer b = a;
  b.name = "output";
  b.index = 2;
  b.type = "linear";
  b.grad_out = {-0.25, 0.5};
  r.layers = {a, b};
  r.invariant.push_back({.upper = "output",
                         .lower = "conv_1",
                         .through = {"pooling_1"},
                         .passed_down = 0.25,
                         .entering = 0.25});
  return r;
}

TEST(GradientFlowPage, JsonHasTheSchemaFields) {
  const nlohmann::json j =
      nlohmann::json::parse(train::GradientFlowToJson(SampleReport()));
  EXPECT_EQ(j["format"], "edbp-gradient-flow");
  EXPECT_EQ(j["version"], train::kGradientFlowVersion);
  EXPECT_EQ(j["config"], "nets/</script><b>x</b>.yaml");
  EXPECT_EQ(j["seed"], 3);
  EXPECT_EQ(j["split"], "train");
  EXPECT_EQ(j["batch"], 1);
  EXPECT_EQ(j["batches"], 4);
  EXPECT_EQ(j["batch_size"], 2);
  EXPECT_EQ(j["time_steps"], 2);
  EXPECT_EQ(j["loss"], 1.5);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_TRUE(j["layers"][0]["grad_out"].is_null()) << "the first layer passes nothing";
  EXPECT_EQ(j["layers"][1]["grad_out"], nlohmann::json({-0.25, 0.5}));
  EXPECT_EQ(j["layers"][0]["grad_in"], nlohmann::json({-0.25, 0.5}));
  EXPECT_EQ(j["layers"][0]["spikes"], nlohmann::json({3, 0}));
  EXPECT_EQ(j["layers"][0]["silent_neurons"], 6);
  EXPECT_EQ(j["layers"][0]["silent_fraction"], 0.75);
  EXPECT_EQ(j["layers"][0]["grad_norm"], 2);
  EXPECT_EQ(j["layers"][0]["weight_norm"], 4);
  EXPECT_EQ(j["invariant"][0]["through"], nlohmann::json({"pooling_1"}));
  EXPECT_EQ(j["invariant"][0]["relative_difference"], 0);
  // The same report, the same bytes.
  EXPECT_EQ(train::GradientFlowToJson(SampleReport()),
            train::GradientFlowToJson(SampleReport()));
}

TEST(GradientFlowPage, PageInlinesEverythingAndEscapesTheReport) {
  const train::GradientFlowReport r = SampleReport();
  const std::string json = train::GradientFlowToJson(r);
  const std::string page = GradientFlowHtml(r, json);
  // The report's "</script>" cannot end its element: "<" goes in as \u003c, and the
  // title is HTML-escaped.
  EXPECT_THAT(page, HasSubstr("nets/\\u003c/script>\\u003cb>x\\u003c/b>.yaml"));
  EXPECT_THAT(page, HasSubstr("<title>edbp gradient flow: nets/&lt;/script&gt;"));
  const std::string marker = "id=\"gradient-flow-data\">";
  const size_t data = page.find(marker);
  ASSERT_NE(data, std::string::npos);
  const size_t begin = data + marker.size();
  const size_t end = page.find("</script>", begin);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(page.substr(begin, end - begin)),
            nlohmann::json::parse(json));
  // The chart code is inline; nothing is loaded from anywhere.
  EXPECT_THAT(page, HasSubstr("const EdbpCharts"));
  EXPECT_THAT(page, HasSubstr("gradient-flow-data"));
  EXPECT_THAT(page, Not(HasSubstr(" src=")));
  EXPECT_THAT(page, Not(HasSubstr("stylesheet")));
  if (GradientFlowPageHasCharts()) {
    EXPECT_THAT(page, HasSubstr("uPlot"));
  }
}

TEST(GradientFlowPage, OutNaming) {
  EXPECT_EQ(GradientFlowPrefix("flow"), "flow");
  EXPECT_EQ(GradientFlowPrefix("a/flow.json"), "a/flow");
  EXPECT_EQ(GradientFlowPrefix("a/flow.html"), "a/flow");
  EXPECT_EQ(GradientFlowPrefix(".json"), ".json");
  EXPECT_EQ(GradientFlowPrefix("flow.yaml"), "flow.yaml");
}

TEST(GradientFlowPage, WritesBothFilesAndChecksTheDirectory) {
  const fs::path dir =
      fs::temp_directory_path() / ("edbp_gradient_flow_page_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string prefix = (dir / "flow").string();
  ASSERT_TRUE(CheckGradientFlowOutput(prefix).ok());
  ASSERT_TRUE(WriteGradientFlow(prefix, SampleReport()).ok());
  EXPECT_EQ(testing::ReadFile(prefix + ".json"),
            train::GradientFlowToJson(SampleReport()));
  EXPECT_THAT(testing::ReadFile(prefix + ".html"), HasSubstr("<!doctype html>"));
  EXPECT_FALSE(fs::exists(prefix + ".json.tmp"));

  const absl::Status missing = CheckGradientFlowOutput((dir / "no/flow").string());
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr((dir / "no").string()));
  fs::create_directories(dir / "d.html");
  const absl::Status is_dir = CheckGradientFlowOutput((dir / "d").string());
  EXPECT_EQ(is_dir.code(), absl::StatusCode::kInvalidArgument);
  const absl::Status write =
      WriteGradientFlow((dir / "no/flow").string(), SampleReport());
  EXPECT_FALSE(write.ok());
  EXPECT_THAT(write.message(), HasSubstr("no/flow.json"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edbp::worker

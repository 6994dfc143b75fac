// Metrics records as JSON lines, the sinks, and the console summaries.
#include "core/train/metrics.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/config/config.h"
#include "core/train/console.h"
#include "core/train/statistics.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;

EpochMetrics Sample() {
  EpochMetrics m;
  m.epoch = 2;
  m.epochs = 3;
  m.train_loss = 0.5;
  m.test_accuracy = 0.875;
  m.n_class = 2;
  m.confusion = {3, 1, 0, 4};
  m.best = true;
  LayerStats l;
  l.name = "conv_1";
  l.index = 0;
  l.grad_sum_in = 1.25;
  l.firing_rate = 0.1;
  m.layers.push_back(l);
  return m;
}

TEST(Metrics, EpochJsonCarriesEveryField) {
  const nlohmann::json j = nlohmann::json::parse(ToJson(Sample()));
  EXPECT_EQ(j["type"], "epoch");
  EXPECT_EQ(j["epoch"], 2);
  EXPECT_EQ(j["test_accuracy"], 0.875);
  EXPECT_EQ(j["confusion"], nlohmann::json({3, 1, 0, 4}));
  EXPECT_EQ(j["best"], true);
  EXPECT_EQ(j["layers"][0]["name"], "conv_1");
  EXPECT_EQ(j["layers"][0]["grad_sum_in"], 1.25);
  for (const char* key :
       {"train_loss", "train_accuracy", "test_loss", "learning_rate", "seconds",
        "train_samples_per_second", "test_samples_per_second", "train_samples",
        "test_samples", "n_class"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_FALSE(j.contains("lr"));  // the name of every other view: learning_rate
  EXPECT_TRUE(j["epochs"].is_number_integer());
  EXPECT_EQ(j["layers"][0]["index"], 0);
  for (const char* key :
       {"grad_norm", "grad_mean", "grad_max_abs", "grad_sum_out", "firing_rate",
        "silent_fraction", "weight_norm", "update_ratio"}) {
    EXPECT_TRUE(j["layers"][0].contains(key)) << key;
  }
}

TEST(Metrics, JsonlSinkAppendsOneLinePerRecordAndCreatesItsDirectory) {
  const fs::path dir = fs::temp_directory_path() / "edbp_metrics_test" / "sub";
  fs::remove_all(dir.parent_path());
  const std::string path = (dir / "m.jsonl").string();
  {
    auto sink = JsonlSink::Open(path);
    ASSERT_TRUE(sink.ok()) << sink.status();
    MultiSink multi({sink->get()});
    multi.OnProgress({.epoch = 1, .batch = 5, .batches = 10});
    multi.OnEpoch(Sample());
    multi.OnCheckpoint({.epoch = 2, .kind = "best", .path = "/x"});
  }
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> types;
  while (std::getline(in, line)) types.push_back(nlohmann::json::parse(line)["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"progress", "epoch", "checkpoint"}));
  fs::remove_all(dir.parent_path());
}

TEST(Metrics, JsonlSinkNamesAnUnwritablePath) {
  auto sink = JsonlSink::Open("/proc/edbp/metrics.jsonl");
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("/proc/edbp/metrics.jsonl"), std::string::npos)
      << sink.status();
}

TEST(Console, NetworkSummaryCountsParameters) {
  auto c = config::LoadConfigFile("configs/small.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string s = NetworkSummary(*c);
  // conv_1: 15·1·5·5 + 2·15 = 405; conv_2: 40·15·25 + 80 = 15080;
  // FC_1: 300·640 + 600 = 192600; output: 10·300 + 20 = 3020. Total 211105.
  EXPECT_NE(s.find("15x24x24"), std::string::npos) << s;
  EXPECT_NE(s.find("405"), std::string::npos) << s;
  EXPECT_NE(s.find("192600"), std::string::npos) << s;
  EXPECT_NE(s.find("total parameters: 211105"), std::string::npos) << s;
  EXPECT_EQ(
      ConfusionTable({3, 1, 0, 4}, 2),
      "label\\pred      0      1\n         0      3      1\n         1      0      4\n");
  // Named rows (base/class_names.h), as wide as the longest name; the columns keep the
  // numbers the rows give.
  const std::string_view names[] = {"cat", "T-shirt/top"};
  EXPECT_EQ(ConfusionTable({3, 1, 0, 4}, 2, names),
            "   label\\pred      0      1\n"
            "0 cat              3      1\n"
            "1 T-shirt/top      0      4\n");
  // A list of another length is not the classes' names: numbers only.
  const std::string_view one[] = {"cat"};
  EXPECT_EQ(ConfusionTable({3, 1, 0, 4}, 2, one), ConfusionTable({3, 1, 0, 4}, 2));
}

// The console's epoch table (train.log): the table of statistics.h, a header above every
// row that follows something else than a row (here: a layer table, a progress line).
TEST(Console, EpochTablesRepeatTheirHeaderAfterOtherLines) {
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  {
    ConsoleSink console(out, /*live=*/false);
    EpochMetrics plain;
    plain.epochs = 4;
    plain.epoch = 1;
    plain.record = 1;
    console.OnEpoch(plain);
    plain.epoch = 2;
    plain.record = 2;
    console.OnEpoch(plain);  // continues the table: no header
    console.OnProgress({.record = 3, .epoch = 3, .batch = 1, .batches = 2});
    plain.epoch = 3;
    plain.record = 4;
    console.OnEpoch(plain);  // after a progress line: a header
    EpochMetrics with_layers = Sample();
    with_layers.record = 5;
    with_layers.epoch = 4;
    with_layers.epochs = 4;
    console.OnEpoch(with_layers);  // continues: no header; then the layer table
  }
  std::fclose(out);
  const std::string printed(text, size);
  std::free(text);
  const std::string header = EpochTableHeader();
  EXPECT_EQ(printed.substr(0, header.size()), header);
  size_t headers = 0;
  for (size_t at = printed.find(header); at != std::string::npos;
       at = printed.find(header, at + 1)) {
    ++headers;
  }
  EXPECT_EQ(headers, 2u) << printed;
  EXPECT_NE(printed.find(EpochTableRow(Sample()).substr(7)), std::string::npos)
      << printed;
  EXPECT_NE(printed.find(LayerTable(Sample().layers, "    ")), std::string::npos)
      << printed;
}

}  // namespace
}  // namespace edbp::train

// The one vocabulary of the statistics (issue 19 item 6): names, formats and the
// tables that edbp-train prints and edbp-client repeats.
#include "core/train/statistics.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::train {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Statistics, NamesAreUniqueSnakeCaseAndLabelsUnique) {
  std::set<std::string> names, labels;
  for (const EpochStatistic& s : EpochStatistics()) {
    EXPECT_TRUE(names.emplace(s.name).second) << s.name;
    EXPECT_TRUE(labels.emplace(s.label).second) << s.label;
    EXPECT_FALSE(s.meaning.empty()) << s.name;
  }
  for (const LayerStatistic& s : LayerStatistics()) {
    EXPECT_TRUE(names.emplace(s.name).second) << s.name;
    EXPECT_TRUE(labels.emplace(s.label).second) << s.label;
    EXPECT_FALSE(s.meaning.empty()) << s.name;
  }
  for (const std::string& name : names) {
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos)
        << name;
  }
  // The two that one label "|dW|" stood for before: distinct names and labels now.
  EXPECT_EQ(LayerStatistics()[0].name, "grad_norm");
  EXPECT_EQ(LayerStatistics()[0].label, "‖dL/dW‖");
  EXPECT_EQ(LayerStatistics().back().name, "update_ratio");
  EXPECT_EQ(LayerStatistics().back().label, "‖ΔW‖/‖W‖");
  // The signed mean says so.
  EXPECT_THAT(std::string(LayerStatistics()[1].meaning), HasSubstr("signed"));
  EXPECT_THAT(std::string(LayerStatistics()[1].label), Not(HasSubstr("|")));
}

TEST(Statistics, SharesKeepTheirDigits) {
  EXPECT_EQ(FormatStatistic(StatisticFormat::kShare, 0.00023), "0.023%");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kShare, 0.125), "12.5%");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kShare, 0), "0%");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kShare, 1), "100%");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kShare, 0.9999999), "99.9%");  // not 100
  EXPECT_EQ(FormatStatistic(StatisticFormat::kShare, 1e-9), "1e-07%");      // not 0
  EXPECT_EQ(FormatStatistic(StatisticFormat::kPercent, 0.875), "87.50%");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kLoss, 0.25), "0.2500");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kG4, 5e-4), "0.0005");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kSci, -1.5e-4), "-1.500e-04");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kSeconds, 12.25), "12.2");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kInteger, 60000), "60000");
  EXPECT_EQ(FormatStatistic(StatisticFormat::kG4, std::nan("")), "nan");
  EXPECT_EQ(
      FormatStatistic(StatisticFormat::kLoss, -std::numeric_limits<double>::infinity()),
      "-inf");
}

EpochMetrics Sample() {
  EpochMetrics m;
  m.epoch = 3;
  m.epochs = 10;
  m.train_loss = 1.5;
  m.train_accuracy = 0.5;
  m.test_loss = 2;
  m.test_accuracy = 0.25;
  m.learning_rate = 0.01;
  m.seconds = 3;
  m.train_samples_per_second = 100;
  m.best = true;
  m.layers.push_back({.name = "conv_10",
                      .index = 0,
                      .grad_norm = 1e-4,
                      .grad_mean = -2e-6,
                      .grad_max_abs = 3e-3,
                      .grad_sum_in = 0.5,
                      .grad_sum_out = -0.25,
                      .firing_rate = 0.03,
                      .silent_fraction = 0.00023,
                      .weight_norm = 12,
                      .update_ratio = 2e-5});
  return m;
}

TEST(Statistics, EpochTableSplitsAtTwoSpaces) {
  EXPECT_EQ(EpochTableHeader(),
            "  epoch  train loss  train acc  test loss   test acc         lr    seconds  "
            "train samples/s\n");
  EXPECT_EQ(EpochTableRow(Sample()),
            "   3/10      1.5000     50.00%     2.0000     25.00%       0.01        3.0  "
            "          100.0  *best\n");
}

TEST(Statistics, LayerTableHasEveryLayerStatistic) {
  EXPECT_EQ(LayerTable({}, "  "), "");
  EXPECT_EQ(
      LayerTable(Sample().layers, "  "),
      "  layer      ‖dL/dW‖  mean dL/dW  max |dL/dW|  Σ dL/dt in  Σ dL/dx out  rate  "
      "silent  ‖W‖   ‖ΔW‖/‖W‖\n"
      "  conv_10  1.000e-04  -2.000e-06    3.000e-03         0.5        -0.25  0.03  "
      "0.023%   12  2.000e-05\n");
}

TEST(Statistics, MarkdownTableHasARowPerStatistic) {
  const std::string table = StatisticsMarkdown();
  EXPECT_THAT(table, HasSubstr("| `train_accuracy` | train acc | fraction | "));
  EXPECT_THAT(table, HasSubstr("| `layers[].update_ratio` | ‖ΔW‖/‖W‖ | – | "));
  EXPECT_THAT(table, HasSubstr("| `layers[].grad_max_abs` | max \\|dL/dW\\| | – | "));
  size_t rows = 0;
  for (char c : table) rows += c == '\n';
  EXPECT_EQ(rows, 2 + EpochStatistics().size() + LayerStatistics().size());
}

// The README's table is this one (tests run from the source root).
TEST(Statistics, TheReadmeListsThem) {
  std::ifstream in("README.md");
  std::stringstream readme;
  readme << in.rdbuf();
  ASSERT_FALSE(readme.str().empty()) << "README.md not found from the working directory";
  EXPECT_THAT(readme.str(), HasSubstr(StatisticsMarkdown()))
      << "update README.md's Statistics table to:\n"
      << StatisticsMarkdown();
}

}  // namespace
}  // namespace edbp::train

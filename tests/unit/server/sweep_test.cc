// A sweep's plan (server/sweep_plan.h) and its early-stopping rules
// (server/early_stopping.h), with hand-derived expectations.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "edbp/v1/sweep.pb.h"
#include "gtest/gtest.h"
#include "server/early_stopping.h"
#include "server/sweep_plan.h"
#include "yaml-cpp/yaml.h"

namespace edbp::server {
namespace {

constexpr char kConfig[] = R"(Network:
  epochs: 3
  lr: 0.0005  # a comment
  tau_m: 5
Layers:
  conv_1:
    type: "conv"
    out_channels: 15
)";

v1::GridParameter Grid(const std::string& key, std::vector<std::string> values) {
  v1::GridParameter g;
  g.set_key(key);
  for (std::string& v : values) g.add_values(std::move(v));
  return g;
}

TEST(SetConfigValueTest, SetsNestedKeysAndKeepsTheRest) {
  auto yaml = SetConfigValue(kConfig, "Layers.conv_1.out_channels", "32");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  YAML::Node root = YAML::Load(*yaml);
  EXPECT_EQ(root["Layers"]["conv_1"]["out_channels"].as<int>(), 32);
  EXPECT_EQ(root["Layers"]["conv_1"]["type"].as<std::string>(), "conv");
  EXPECT_EQ(root["Network"]["lr"].as<std::string>(), "0.0005");
  yaml = SetConfigValue(kConfig, "Network.lr", "1e-4");
  ASSERT_TRUE(yaml.ok());
  EXPECT_DOUBLE_EQ(YAML::Load(*yaml)["Network"]["lr"].as<double>(), 1e-4);
  // A new key of an existing section is set (the config check judges it).
  yaml = SetConfigValue(kConfig, "Network.seed", "4");
  ASSERT_TRUE(yaml.ok());
  EXPECT_EQ(YAML::Load(*yaml)["Network"]["seed"].as<int>(), 4);
}

TEST(SetConfigValueTest, HostileKeysAndValuesAreClearErrors) {
  auto bad = SetConfigValue(kConfig, "Layers.conv_9.out_channels", "3");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "no section Layers.conv_9"))
      << bad.status();
  EXPECT_FALSE(SetConfigValue(kConfig, "Network.lr", "[1, 2]").ok());  // not one value
  EXPECT_FALSE(SetConfigValue(kConfig, "Network.lr", "{a: 1}").ok());
  EXPECT_FALSE(SetConfigValue("Network: [unclosed", "Network.lr", "1").ok());
  EXPECT_FALSE(SetConfigValue(kConfig, "Network.lr.deeper", "1").ok());  // lr is no map
}

TEST(PlanTrialsTest, GridTimesSeedsInOrderFirstKeySlowest) {
  v1::Sweep sweep;
  *sweep.add_grid() = Grid("Network.lr", {"1e-4", "1e-3"});
  *sweep.add_grid() = Grid("Network.tau_m", {"5", "7", "9"});
  sweep.add_seeds(0);
  sweep.add_seeds(1);
  auto plan = PlanTrials(kConfig, sweep);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 12u);  // 2 × 3 × 2
  const std::vector<std::pair<std::string, std::string>> second_point = {
      {"Network.lr", "1e-4"}, {"Network.tau_m", "7"}};
  EXPECT_EQ((*plan)[2].parameters, second_point);
  EXPECT_EQ((*plan)[2].seed, 0u);
  EXPECT_EQ((*plan)[3].parameters, second_point);
  EXPECT_EQ((*plan)[3].seed, 1u);
  EXPECT_EQ((*plan)[11].parameters[0].second, "1e-3");
  EXPECT_EQ((*plan)[11].parameters[1].second, "9");
  YAML::Node last = YAML::Load((*plan)[11].config_yaml);
  EXPECT_DOUBLE_EQ(last["Network"]["lr"].as<double>(), 1e-3);
  EXPECT_EQ(last["Network"]["tau_m"].as<int>(), 9);
}

TEST(PlanTrialsTest, RandomDrawsAreInRangeAndRepeatWithTheSamplingSeed) {
  v1::Sweep sweep;
  v1::RandomParameter* lr = sweep.add_random();
  lr->set_key("Network.lr");
  lr->set_scale(v1::RandomParameter::LOG_UNIFORM);
  lr->set_min(1e-5);
  lr->set_max(1e-2);
  v1::RandomParameter* width = sweep.add_random();
  width->set_key("Layers.conv_1.out_channels");
  width->set_scale(v1::RandomParameter::UNIFORM);
  width->set_min(8);
  width->set_max(32);
  width->set_integer(true);
  sweep.set_random_trials(20);
  sweep.set_sampling_seed(42);
  auto plan = PlanTrials(kConfig, sweep);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 20u);
  std::vector<std::string> widths;
  for (const PlannedTrial& t : *plan) {
    const double lr_value = std::stod(t.parameters[0].second);
    EXPECT_GE(lr_value, 1e-5);
    EXPECT_LE(lr_value, 1e-2);
    const int w = std::stoi(t.parameters[1].second);
    EXPECT_GE(w, 8);
    EXPECT_LE(w, 32);
    EXPECT_EQ(t.parameters[1].second, std::to_string(w));  // an integer, written so
    widths.push_back(t.parameters[1].second);
    EXPECT_FALSE(t.seed.has_value());
  }
  auto again = PlanTrials(kConfig, sweep);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < plan->size(); ++i) {
    EXPECT_EQ((*plan)[i].parameters, (*again)[i].parameters);
  }
  sweep.set_sampling_seed(43);
  auto other = PlanTrials(kConfig, sweep);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*plan)[0].parameters, (*other)[0].parameters);
}

TEST(DrawValueTest, HandComputedPoints) {
  v1::RandomParameter p;
  p.set_scale(v1::RandomParameter::UNIFORM);
  p.set_min(2);
  p.set_max(4);
  EXPECT_EQ(DrawValue(p, 0.25), "2.5");
  EXPECT_EQ(DrawValue(p, 0.0), "2");
  p.set_scale(v1::RandomParameter::LOG_UNIFORM);
  p.set_min(1e-4);
  p.set_max(1e-2);
  EXPECT_EQ(DrawValue(p, 0.5), "0.001");  // the geometric midpoint
  p.set_integer(true);
  p.set_min(1);
  p.set_max(100);
  EXPECT_EQ(DrawValue(p, 0.5), "10");
}

TEST(PlanTrialsTest, EveryRequestErrorIsListedWithItsField) {
  v1::Sweep sweep;
  *sweep.add_grid() = Grid("lr", {"1"});                 // not Network.* / Layers.*
  *sweep.add_grid() = Grid("Network.tau_m", {});         // no values
  *sweep.add_grid() = Grid("Network.tau_s", {"1", ""});  // an empty value
  v1::RandomParameter* r = sweep.add_random();
  r->set_key("Network.tau_s");  // swept twice
  r->set_scale(v1::RandomParameter::LOG_UNIFORM);
  r->set_min(-1);
  r->set_max(1);
  sweep.add_seeds(3);
  sweep.add_seeds(3);
  auto plan = PlanTrials(kConfig, sweep);
  ASSERT_FALSE(plan.ok());
  const std::string m(plan.status().message());
  EXPECT_TRUE(absl::StrContains(m, "grid[0]: \"lr\" is not a config key")) << m;
  EXPECT_TRUE(absl::StrContains(m, "grid[1] (Network.tau_m): 1 to 64 values, got 0"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "grid[2] (Network.tau_s): a value is empty")) << m;
  EXPECT_TRUE(absl::StrContains(m, "random[0]: Network.tau_s is swept twice")) << m;
  EXPECT_TRUE(absl::StrContains(m, "a log-uniform range needs min > 0")) << m;
  EXPECT_TRUE(absl::StrContains(m, "random_trials: random keys need at least 1 draw"))
      << m;
  EXPECT_TRUE(absl::StrContains(m, "seeds: a seed is repeated")) << m;
  // Too many trials, and an empty sweep.
  v1::Sweep huge;
  *huge.add_grid() = Grid("Network.lr", std::vector<std::string>(40, "1"));
  *huge.add_grid() = Grid("Network.tau_m", std::vector<std::string>(40, "1"));
  EXPECT_TRUE(absl::StrContains(PlanTrials(kConfig, huge).status().message(),
                                "the sweep has 1600 trials; at most 1000"));
  EXPECT_FALSE(PlanTrials(kConfig, v1::Sweep()).ok());
  // A layer that does not exist: the trial is named.
  v1::Sweep missing;
  *missing.add_grid() = Grid("Layers.conv_7.out_channels", {"3"});
  EXPECT_TRUE(absl::StrContains(PlanTrials(kConfig, missing).status().message(),
                                "trial 0: Layers.conv_7.out_channels: the config has no "
                                "section Layers.conv_7"));
}

v1::EarlyStopping Policy(v1::EarlyStopping::Policy policy, int grace, int eta = 0) {
  v1::EarlyStopping p;
  p.set_policy(policy);
  p.set_grace_epochs(grace);
  p.set_eta(eta);
  return p;
}

TEST(EarlyStoppingTest, MedianComparesBestSoFarAtTheSameEpoch) {
  const v1::EarlyStopping median = Policy(v1::EarlyStopping::MEDIAN, 2);
  // Others' best by epoch 2: 0.5, 0.7, 0.6 -> median 0.6.
  const std::vector<AccuracyCurve> others = {
      {0.3, 0.5, 0.9}, {0.7, 0.4, 0.95}, {0.6, 0.55}};
  EXPECT_FALSE(EarlyStopReason(median, {0.1}, others).has_value());  // in its grace
  const auto stop = EarlyStopReason(median, {0.2, 0.59}, others);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(*stop,
            "best test accuracy 0.5900 by epoch 2 is below the median 0.6000 of 3 other "
            "trials");
  EXPECT_FALSE(EarlyStopReason(median, {0.6, 0.2}, others).has_value());  // best 0.6
  // Two others, even count: median (0.5 + 0.7) / 2 = 0.6.
  EXPECT_TRUE(EarlyStopReason(median, {0.1, 0.59}, {others[0], others[1]}).has_value());
  // Fewer than min_trials (2) others reached the epoch: no decision.
  EXPECT_FALSE(EarlyStopReason(median, {0.1, 0.1, 0.1, 0.1}, others).has_value());
}

TEST(EarlyStoppingTest, SuccessiveHalvingKeepsTheTopThirdAtEachRung) {
  const v1::EarlyStopping sh = Policy(v1::EarlyStopping::SUCCESSIVE_HALVING, 1, 3);
  // Rungs at epochs 1, 3, 9. At epoch 1 with 5 others: 6 trials, keep 2.
  const std::vector<AccuracyCurve> others = {{0.9}, {0.8}, {0.3}, {0.2}, {0.1}};
  EXPECT_FALSE(EarlyStopReason(sh, {0.85}, others).has_value());  // second best
  EXPECT_FALSE(EarlyStopReason(sh, {0.8}, others).has_value());   // ties the kept
  const auto stop = EarlyStopReason(sh, {0.5}, others);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(*stop,
            "test accuracy 0.5000 at epoch 1 is not among the best 2 of the 6 trials at "
            "that rung (1/3)");
  // Epoch 2 is no rung; epoch 3 is, but no other trial has reached it.
  EXPECT_FALSE(EarlyStopReason(sh, {0.9, 0.0}, others).has_value());
  EXPECT_FALSE(EarlyStopReason(sh, {0.9, 0.0, 0.0}, others).has_value());
  // NONE never stops.
  EXPECT_FALSE(
      EarlyStopReason(Policy(v1::EarlyStopping::NONE, 1), {0.0}, others).has_value());
}

}  // namespace
}  // namespace edbp::server

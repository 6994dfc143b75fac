#include "server/sweep_plan.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/splitmix64.h"
#include "yaml-cpp/yaml.h"

namespace edbp::server {
namespace {

// A double in [0, 1) from the top 53 bits.
double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

bool ValidKey(const std::string& key) {
  const std::vector<std::string> parts = absl::StrSplit(key, '.');
  if (parts.size() < 2 || (parts[0] != "Network" && parts[0] != "Layers")) return false;
  for (const std::string& part : parts) {
    if (part.empty() || part.size() > 64) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> SetConfigValue(const std::string& config_yaml,
                                           const std::string& key,
                                           const std::string& value) {
  YAML::Node root;
  YAML::Node scalar;
  try {
    root = YAML::Load(config_yaml);
    scalar = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(key, "=", value, ": ", e.what()));
  }
  if (!scalar.IsScalar()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, "=", value, ": expected one value (a number or a word)"));
  }
  const std::vector<std::string> parts = absl::StrSplit(key, '.');
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!node.IsMap() || !node[parts[i]] || !node[parts[i]].IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": the config has no section ",
                       absl::StrJoin(parts.begin(), parts.begin() + i + 1, ".")));
    }
    node.reset(node[parts[i]]);
  }
  node[parts.back()] = scalar;
  YAML::Emitter out;
  out << root;
  if (!out.good()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", out.GetLastError()));
  }
  return std::string(out.c_str()) + "\n";
}

std::string DrawValue(const v1::RandomParameter& p, double u) {
  double x = 0;
  if (p.scale() == v1::RandomParameter::LOG_UNIFORM) {
    x = std::exp(std::log(p.min()) + u * (std::log(p.max()) - std::log(p.min())));
  } else {
    x = p.min() + u * (p.max() - p.min());
  }
  if (p.integer()) return absl::StrCat(std::llround(x));
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", x);
  return text;
}

absl::StatusOr<std::vector<PlannedTrial>> PlanTrials(const std::string& config_yaml,
                                                     const v1::Sweep& sweep) {
  std::vector<std::string> errors;
  std::set<std::string> keys;
  auto check_key = [&](const std::string& field, const std::string& key) {
    if (!ValidKey(key)) {
      errors.push_back(absl::StrCat(field, ": \"", key,
                                    "\" is not a config key (Network.NAME or "
                                    "Layers.LAYER.NAME)"));
    } else if (!keys.insert(key).second) {
      errors.push_back(absl::StrCat(field, ": ", key, " is swept twice"));
    }
  };
  if (sweep.grid_size() + sweep.random_size() > kMaxSweepKeys) {
    errors.push_back(absl::StrCat("grid, random: at most ", kMaxSweepKeys, " keys"));
  }
  if (sweep.grid_size() + sweep.random_size() == 0 && sweep.seeds_size() == 0) {
    errors.push_back("grid, random, seeds: a sweep varies at least one key or the seed");
  }
  double trials = 1;
  for (int i = 0; i < sweep.grid_size(); ++i) {
    const v1::GridParameter& g = sweep.grid(i);
    const std::string field = absl::StrCat("grid[", i, "]");
    check_key(field, g.key());
    if (g.values_size() < 1 || g.values_size() > kMaxGridValues) {
      errors.push_back(absl::StrCat(field, " (", g.key(), "): 1 to ", kMaxGridValues,
                                    " values, got ", g.values_size()));
    }
    for (const std::string& v : g.values()) {
      if (v.empty() || v.size() > 256) {
        errors.push_back(absl::StrCat(field, " (", g.key(),
                                      "): a value is empty or longer "
                                      "than 256 bytes"));
        break;
      }
    }
    trials *= std::max(1, g.values_size());
  }
  for (int i = 0; i < sweep.random_size(); ++i) {
    const v1::RandomParameter& r = sweep.random(i);
    const std::string field = absl::StrCat("random[", i, "] (", r.key(), ")");
    check_key(absl::StrCat("random[", i, "]"), r.key());
    if (r.scale() != v1::RandomParameter::UNIFORM &&
        r.scale() != v1::RandomParameter::LOG_UNIFORM) {
      errors.push_back(absl::StrCat(field, ": scale must be UNIFORM or LOG_UNIFORM"));
    }
    if (!std::isfinite(r.min()) || !std::isfinite(r.max()) || r.min() > r.max()) {
      errors.push_back(absl::StrCat(field, ": expected finite min <= max, got [", r.min(),
                                    ", ", r.max(), "]"));
    } else if (r.scale() == v1::RandomParameter::LOG_UNIFORM && !(r.min() > 0)) {
      errors.push_back(
          absl::StrCat(field, ": a log-uniform range needs min > 0, got ", r.min()));
    }
  }
  if (sweep.random_size() > 0 && sweep.random_trials() < 1) {
    errors.push_back("random_trials: random keys need at least 1 draw");
  }
  if (sweep.random_size() == 0 && sweep.random_trials() > 0) {
    errors.push_back("random_trials: draws without random keys");
  }
  if (sweep.random_trials() < 0) errors.push_back("random_trials: must not be negative");
  trials *= std::max(1, sweep.random_trials());
  trials *= std::max(1, sweep.seeds_size());
  if (trials > kMaxSweepTrials) {
    errors.push_back(
        absl::StrCat("the sweep has ", trials, " trials; at most ", kMaxSweepTrials));
  }
  const std::set<uint64_t> distinct_seeds(sweep.seeds().begin(), sweep.seeds().end());
  if (static_cast<int>(distinct_seeds.size()) != sweep.seeds_size()) {
    errors.push_back("seeds: a seed is repeated");
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));

  // The grid's points, first key slowest.
  std::vector<std::vector<std::pair<std::string, std::string>>> points = {{}};
  for (const v1::GridParameter& g : sweep.grid()) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& point : points) {
      for (const std::string& v : g.values()) {
        next.push_back(point);
        next.back().emplace_back(g.key(), v);
      }
    }
    points = std::move(next);
  }
  const int draws = std::max(1, sweep.random_trials());
  std::vector<PlannedTrial> plan;
  uint64_t draw_index = 0;
  for (const auto& point : points) {
    for (int d = 0; d < draws; ++d, ++draw_index) {
      std::vector<std::pair<std::string, std::string>> params = point;
      uint64_t state = SplitMix64(sweep.sampling_seed() ^ SplitMix64(draw_index));
      for (const v1::RandomParameter& r : sweep.random()) {
        state = SplitMix64(state);
        params.emplace_back(r.key(), DrawValue(r, Unit(state)));
      }
      std::string yaml = config_yaml;
      for (const auto& [key, value] : params) {
        absl::StatusOr<std::string> set = SetConfigValue(yaml, key, value);
        if (!set.ok()) {
          errors.push_back(
              absl::StrCat("trial ", plan.size(), ": ", set.status().message()));
          break;
        }
        yaml = *std::move(set);
      }
      if (sweep.seeds_size() == 0) {
        plan.push_back({params, std::nullopt, yaml});
        continue;
      }
      for (const uint64_t seed : sweep.seeds()) plan.push_back({params, seed, yaml});
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return plan;
}

}  // namespace edbp::server

// A sweep's trials, planned before any job exists (issue 19): the grid's points × the
// random draws × the seeds, each a config of its own. Pure functions; no I/O.
//
// Order: the grid's first key varies slowest, its last fastest; within a grid point
// the random draws in order; within a draw the seeds in order. Trial i's random values
// come from SplitMix64(sampling_seed, i-th draw), so a sweep's plan is the same on
// every machine and every call.
#ifndef EDBP_SERVER_SWEEP_PLAN_H_
#define EDBP_SERVER_SWEEP_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "edbp/v1/sweep.pb.h"

namespace edbp::server {

// Bounds of a request (INVALID_ARGUMENT beyond them).
inline constexpr int kMaxSweepTrials = 1000;
inline constexpr int kMaxSweepKeys = 32;
inline constexpr int kMaxGridValues = 64;

struct PlannedTrial {
  std::vector<std::pair<std::string, std::string>> parameters;  // (key, value) in order
  std::optional<uint64_t> seed;  // from the sweep's seeds; none: the config's own
  std::string config_yaml;       // the base config with the parameters set
};

// `config_yaml` with the value at the dotted `key` ("Network.lr",
// "Layers.conv_1.out_channels") set to `value` (a YAML scalar as written: "1e-4",
// "5", "adjusted_avg"). The path's sections and layers must exist; the last key may be
// new (the config check then names it when it is unknown). INVALID_ARGUMENT naming
// the key otherwise, or when the YAML does not parse. Comments are not kept.
absl::StatusOr<std::string> SetConfigValue(const std::string& config_yaml,
                                           const std::string& key,
                                           const std::string& value);

// The trials of a sweep: grid × random draws × seeds, each with its config. Checks the
// request's own fields (keys, values, ranges, counts; every error listed, one per
// line, naming the field); the configs themselves are the caller's to validate.
absl::StatusOr<std::vector<PlannedTrial>> PlanTrials(const std::string& config_yaml,
                                                     const v1::Sweep& sweep);

// A random value of `p` from the draw `u` in [0, 1), as the trial's YAML text:
// integers in decimal, others with 6 significant digits.
std::string DrawValue(const v1::RandomParameter& p, double u);

}  // namespace edbp::server

#endif  // EDBP_SERVER_SWEEP_PLAN_H_

#include "server/early_stopping.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_format.h"

namespace edbp::server {
namespace {

double BestUpTo(const AccuracyCurve& curve, size_t epochs) {
  return *std::max_element(curve.begin(), curve.begin() + static_cast<ptrdiff_t>(epochs));
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

std::optional<std::string> EarlyStopReason(const v1::EarlyStopping& policy,
                                           const AccuracyCurve& trial,
                                           const std::vector<AccuracyCurve>& others) {
  if (trial.empty()) return std::nullopt;
  const size_t epoch = trial.size();
  const size_t grace = static_cast<size_t>(std::max(1, policy.grace_epochs()));
  const size_t min_trials =
      static_cast<size_t>(policy.min_trials() > 0 ? policy.min_trials() : 2);
  if (epoch < grace) return std::nullopt;
  switch (policy.policy()) {
    case v1::EarlyStopping::MEDIAN: {
      std::vector<double> bests;
      for (const AccuracyCurve& other : others) {
        if (other.size() >= epoch) bests.push_back(BestUpTo(other, epoch));
      }
      if (bests.size() < min_trials) return std::nullopt;
      const double best = BestUpTo(trial, epoch);
      const double median = Median(bests);
      if (!(best < median)) return std::nullopt;
      return absl::StrFormat(
          "best test accuracy %.4f by epoch %d is below the median %.4f of %d other "
          "trials",
          best, epoch, median, bests.size());
    }
    case v1::EarlyStopping::SUCCESSIVE_HALVING: {
      const size_t eta = static_cast<size_t>(policy.eta() >= 2 ? policy.eta() : 3);
      // Is `epoch` a rung: grace × eta^k?
      size_t rung = grace;
      while (rung < epoch) rung *= eta;
      if (rung != epoch) return std::nullopt;
      std::vector<double> at_rung;
      for (const AccuracyCurve& other : others) {
        if (other.size() >= epoch) at_rung.push_back(other[epoch - 1]);
      }
      if (at_rung.size() < min_trials) return std::nullopt;
      const double mine = trial[epoch - 1];
      at_rung.push_back(mine);
      std::sort(at_rung.begin(), at_rung.end(), std::greater<>());
      const size_t keep = std::max<size_t>(1, at_rung.size() / eta);
      if (mine >= at_rung[keep - 1]) return std::nullopt;
      return absl::StrFormat(
          "test accuracy %.4f at epoch %d is not among the best %d of the %d trials at "
          "that rung (1/%d)",
          mine, epoch, keep, at_rung.size(), eta);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace edbp::server

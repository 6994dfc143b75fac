// The early-stopping rules of a sweep (sweep.proto, EarlyStopping), as pure functions
// of the trials' test-accuracy curves, decided at a trial's epoch end.
#ifndef EDBP_SERVER_EARLY_STOPPING_H_
#define EDBP_SERVER_EARLY_STOPPING_H_

#include <optional>
#include <string>
#include <vector>

#include "edbp/v1/sweep.pb.h"

namespace edbp::server {

// A trial's test accuracy after each finished epoch: curve[e - 1] is epoch e's.
using AccuracyCurve = std::vector<double>;

// Whether the trial whose curve is `trial` stops now, at its epoch trial.size(), given
// the curves of the sweep's other trials (any length). Returns why ("best test
// accuracy 0.41 by epoch 3 is below the median 0.55 of 4 other trials"), or nothing.
//
// MEDIAN: from epoch max(1, grace_epochs) on, with at least min_trials (default 2)
// others that reached the epoch: stop when the trial's best accuracy up to the epoch
// is below the median of the others' best accuracies up to the same epoch.
// SUCCESSIVE_HALVING: at a rung (epoch grace × eta^k, grace >= 1, eta default 3), with
// at least min_trials others at that rung: the trial and those others are ranked by
// their accuracy at the rung epoch; the trial goes on when it is among the best
// max(1, floor(n / eta)) of the n (ties with the last kept value go on), else stops.
std::optional<std::string> EarlyStopReason(const v1::EarlyStopping& policy,
                                           const AccuracyCurve& trial,
                                           const std::vector<AccuracyCurve>& others);

}  // namespace edbp::server

#endif  // EDBP_SERVER_EARLY_STOPPING_H_

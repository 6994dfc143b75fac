// How long a job has left, from its event stream (issue 19): watch and submit
// --follow show it after the current pass's own eta; the dashboard's job view
// (client/dashboard/web/app.js, jobEta) follows the same rule.
//
// The pace P is the mean EpochMetrics.seconds of the epochs finished so far (their
// train + test wall time). Before the first epoch ends, P is the current epoch's
// training pass extrapolated from its latest progress record: eta_seconds per batch
// left, times the pass's batches (the test pass is not known yet: a lower bound).
// Then, for the latest progress record of epoch e of E:
//   training pass: (E - e + (batches - batch) / batches) × P   ("epochs left × pace")
//   test pass:     (E - e) × P + eta_seconds                   (its own rest)
// Not thread-safe.
#ifndef EDBP_CLIENT_COMMON_JOB_ETA_H_
#define EDBP_CLIENT_COMMON_JOB_ETA_H_

#include <cstdint>
#include <optional>

#include "edbp/v1/metrics.pb.h"

namespace edbp::client {

class JobEta {
 public:
  // Feed every epoch record and progress record of the job, in stream order.
  void OnEpoch(const v1::EpochMetrics& m);
  void OnProgress(const v1::Progress& p);

  // Seconds per epoch (above); nullopt while nothing tells.
  std::optional<double> Pace() const;
  // Seconds to the end of the job after the latest progress record; nullopt before
  // one, when the pace is unknown, or when the record does not say the run's epochs
  // (one stored before issue 19).
  std::optional<double> JobSeconds() const;

 private:
  double epoch_seconds_ = 0;  // Σ EpochMetrics.seconds
  int64_t epochs_done_ = 0;   // epoch records seen
  std::optional<v1::Progress> latest_;
  // Of the epoch of latest_: its training pass's length extrapolated (seconds).
  int64_t estimate_epoch_ = 0;
  std::optional<double> train_pass_estimate_;
};

}  // namespace edbp::client

#endif  // EDBP_CLIENT_COMMON_JOB_ETA_H_

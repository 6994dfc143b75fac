#include "client/common/job_eta.h"

#include <algorithm>

namespace edbp::client {

void JobEta::OnEpoch(const v1::EpochMetrics& m) {
  epoch_seconds_ += std::max(0.0, m.seconds());
  ++epochs_done_;
  latest_.reset();  // the epoch's passes are over
}

void JobEta::OnProgress(const v1::Progress& p) {
  if (p.epoch() != estimate_epoch_) {
    estimate_epoch_ = p.epoch();
    train_pass_estimate_.reset();
  }
  const bool test = p.phase() == v1::Progress::TEST;
  if (!test && p.batch() > 0 && p.batch() < p.batches() && p.eta_seconds() >= 0) {
    train_pass_estimate_ = p.eta_seconds() /
                           static_cast<double>(p.batches() - p.batch()) *
                           static_cast<double>(p.batches());
  }
  latest_ = p;
}

std::optional<double> JobEta::Pace() const {
  if (epochs_done_ > 0) return epoch_seconds_ / static_cast<double>(epochs_done_);
  return train_pass_estimate_;
}

std::optional<double> JobEta::JobSeconds() const {
  const std::optional<double> pace = Pace();
  if (!latest_.has_value() || !pace.has_value()) return std::nullopt;
  const v1::Progress& p = *latest_;
  if (p.epochs() <= 0 || p.batches() <= 0) return std::nullopt;
  const double epochs_after =
      static_cast<double>(std::max<int64_t>(0, p.epochs() - p.epoch()));
  if (p.phase() == v1::Progress::TEST) {
    return epochs_after * *pace + std::max(0.0, p.eta_seconds());
  }
  const double left_in_epoch =
      static_cast<double>(std::max<int64_t>(0, p.batches() - p.batch())) /
      static_cast<double>(p.batches());
  return (epochs_after + left_in_epoch) * *pace;
}

}  // namespace edbp::client

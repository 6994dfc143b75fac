// Human-readable output of edbp-train: a live progress line, a per-epoch table and a
// per-layer gradient table (statistics.h: the labels and formats every view shares), and
// the network summary of --validate.
#ifndef EDBP_CORE_TRAIN_CONSOLE_H_
#define EDBP_CORE_TRAIN_CONSOLE_H_

#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/train/metrics.h"

namespace edbp::train {

class ConsoleSink final : public MetricsSink {
 public:
  // `live`: rewrite one progress line in place (a terminal); else print each record on
  // its own line (logs, pipes).
  ConsoleSink(std::FILE* out, bool live) : out_(out), live_(live) {}
  void OnProgress(const ProgressRecord& r) override;
  void OnEpoch(const EpochMetrics& m) override;
  void OnCheckpoint(const CheckpointRecord& r) override;

 private:
  std::FILE* out_;
  const bool live_;
  // The record number of an epoch whose row would continue the table just printed.
  std::optional<int64_t> continues_;
  bool progress_open_ = false;  // a live progress line is on screen
};

// Every layer with its output shape and parameter count, and the totals.
std::string NetworkSummary(const config::Config& config);

// The confusion matrix as a table (rows = label, columns = predicted). With `names`
// (one per class, base/class_names.h) each row reads "i name", so that the numbered
// columns are named too; other sizes of `names` are ignored.
std::string ConfusionTable(const std::vector<int64_t>& confusion, int64_t n_class,
                           std::span<const std::string_view> names = {});

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_CONSOLE_H_

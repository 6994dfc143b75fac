#include "core/train/console.h"

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/train/statistics.h"

namespace edbp::train {

void ConsoleSink::OnProgress(const ProgressRecord& r) {
  // "test batch" in the test pass: its loss and accuracy are the test split's.
  const std::string line = absl::StrFormat(
      "epoch %d  %sbatch %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  eta %.0fs",
      r.epoch, r.phase == Phase::kTest ? "test " : "", r.batch, r.batches, r.running_loss,
      100 * r.running_accuracy, r.samples_per_second, r.eta_seconds);
  if (live_) {
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    progress_open_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ConsoleSink::OnEpoch(const EpochMetrics& m) {
  if (progress_open_) {
    std::fputs("\r\033[K", out_);
    progress_open_ = false;
  }
  // A header above each row that does not continue a table of rows: the first, and
  // any after a layer table or another record (as edbp-client's tables).
  if (!continues_.has_value() || *continues_ != m.record) {
    std::fputs(EpochTableHeader().c_str(), out_);
  }
  std::fputs(EpochTableRow(m).c_str(), out_);
  std::fputs(LayerTable(m.layers, "    ").c_str(), out_);
  continues_.reset();
  if (m.layers.empty()) continues_ = m.record + 1;
  std::fflush(out_);
}

void ConsoleSink::OnCheckpoint(const CheckpointRecord& r) {
  if (!live_) std::fprintf(out_, "checkpoint (%s) %s\n", r.kind.c_str(), r.path.c_str());
}

std::string NetworkSummary(const config::Config& config) {
  std::string out = absl::StrFormat("input %s  T=%d (t_train %d)  batch %d  %d classes\n",
                                    absl::StrJoin(config.input_shape, "x"),
                                    config.network.n_steps, config.network.t_train,
                                    config.network.batch_size, config.network.n_class);
  absl::StrAppendFormat(&out, "%4s  %-12s %-8s %-16s %12s\n", "i", "layer", "type",
                        "output", "parameters");
  int64_t total = 0;
  for (size_t i = 0; i < config.layers.size(); ++i) {
    const config::LayerConfig& l = config.layers[i];
    int64_t params = 0;
    if (l.type == config::LayerType::kConv) {
      params = l.out_channels * l.in_channels * l.kernel_size[0] * l.kernel_size[1] +
               2 * l.out_channels;  // W + g + b
    } else if (l.type == config::LayerType::kLinear) {
      params = l.n_outputs * l.n_inputs + 2 * l.n_outputs;
    }
    total += params;
    absl::StrAppendFormat(&out, "%4d  %-12s %-8s %-16s %12d\n", static_cast<int>(i),
                          l.name, std::string(config::LayerTypeName(l.type)),
                          absl::StrJoin(l.out_shape, "x"), params);
  }
  absl::StrAppendFormat(&out, "total parameters: %d\n", total);
  return out;
}

std::string ConfusionTable(const std::vector<int64_t>& confusion, int64_t n_class,
                           std::span<const std::string_view> names) {
  const bool named = static_cast<int64_t>(names.size()) == n_class;
  std::vector<std::string> rows;
  size_t width = std::string_view("label\\pred").size();
  for (int64_t r = 0; r < n_class; ++r) {
    rows.push_back(named ? absl::StrCat(r, " ") + std::string(names[r])
                         : absl::StrCat(r));
    width = std::max(width, rows.back().size());
  }
  std::string out = absl::StrFormat("%*s", static_cast<int>(width), "label\\pred");
  for (int64_t c = 0; c < n_class; ++c) absl::StrAppendFormat(&out, " %6d", c);
  out += "\n";
  for (int64_t r = 0; r < n_class; ++r) {
    // Names read left-aligned, numbers right-aligned as the columns' numbers are.
    if (named) {
      absl::StrAppendFormat(&out, "%-*s", static_cast<int>(width), rows[r]);
    } else {
      absl::StrAppendFormat(&out, "%*s", static_cast<int>(width), rows[r]);
    }
    for (int64_t c = 0; c < n_class; ++c) {
      absl::StrAppendFormat(&out, " %6d", confusion[r * n_class + c]);
    }
    out += "\n";
  }
  return out;
}

}  // namespace edbp::train

// The one vocabulary of the training statistics (issue 19 item 6): for every number
// an epoch reports, its field name, display label, unit, format and meaning. Every
// view takes them from here: edbp-train's console table (and so train.log), its
// --metrics-jsonl records, TensorBoard tags, and (through the same functions over the
// API's messages converted back) edbp-client's tables, `--output json`, `metrics
// --format csv|jsonl` and the dashboard. The README's "Statistics" table lists them.
//
// Names are the snake_case fields of core/train/metrics.h, of proto/edbp/v1/
// metrics.proto and of every JSON view; labels are what tables and charts print.
// Formats (FormatStatistic):
//   kInteger   "%d"                               epoch, samples
//   kLoss      "%.4f"                             losses
//   kPercent   "%.2f%%" of 100·x                  accuracies
//   kShare     3 significant digits of 100·x, "%"  silent fraction: 0.00023 -> "0.023%"
//                (never "0%" or "100%" unless exactly so)
//   kG4        "%.4g"                             lr, sums, rates, norms
//   kSeconds   "%.1f"                             seconds, samples/s
//   kSci       "%.3e"                             gradients
#ifndef EDBP_CORE_TRAIN_STATISTICS_H_
#define EDBP_CORE_TRAIN_STATISTICS_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/train/metrics.h"

namespace edbp::train {

enum class StatisticFormat {
  kInteger,  // a count
  kLoss,     // 4 decimals
  kPercent,  // a fraction as a percentage with 2 decimals
  kShare,    // a fraction as a percentage with 3 significant digits
  kG4,       // 4 significant digits
  kSeconds,  // 1 decimal
  kSci,      // scientific, 3 decimals
};

// One statistic of an epoch (EpochMetrics) or of a layer in it (LayerStats).
struct EpochStatistic {
  std::string_view name;     // field name in every JSON view and in TensorBoard
  std::string_view label;    // column header / legend in tables and charts
  std::string_view unit;     // "" for a pure number
  std::string_view meaning;  // one line, with its ALGORITHM.md § where there is one
  StatisticFormat format;
  bool in_table;  // a column of the console/client epoch table
  double (*get)(const EpochMetrics&);
};

struct LayerStatistic {
  std::string_view name;
  std::string_view label;
  std::string_view unit;
  std::string_view meaning;
  StatisticFormat format;
  double (*get)(const LayerStats&);
};

// In column order. Epoch: epoch, epochs, train_loss, train_accuracy, test_loss,
// test_accuracy, learning_rate, seconds, train_samples_per_second,
// test_samples_per_second, train_samples, test_samples. Layer: grad_norm, grad_mean,
// grad_max_abs, grad_sum_in, grad_sum_out, firing_rate, silent_fraction, weight_norm,
// update_ratio. (n_class, confusion, best and the layer's name and index are no
// statistics: the views carry them as they are.)
const std::vector<EpochStatistic>& EpochStatistics();
const std::vector<LayerStatistic>& LayerStatistics();

// `value` in `format` (the header's table). Non-finite values print as "nan", "inf",
// "-inf".
std::string FormatStatistic(StatisticFormat format, double value);

// The epoch table (console, train.log, edbp-client watch/logs): a header line of labels
// and one row per epoch, columns two spaces apart (split a line at 2+ spaces), "epoch"
// as "E/N", "  *best" after a best epoch.
std::string EpochTableHeader();
std::string EpochTableRow(const EpochMetrics& m);

// The per-layer table under an epoch row: a header and one row per layer, each line
// starting with `indent`, columns as wide as their widest cell (counted in code points:
// labels hold ‖, Σ and Δ). "" when there are no layers.
std::string LayerTable(const std::vector<LayerStats>& layers, std::string_view indent);

// The README's table of statistics (Markdown): name, label, unit, meaning.
std::string StatisticsMarkdown();

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_STATISTICS_H_

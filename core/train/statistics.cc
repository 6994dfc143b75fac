#include "core/train/statistics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edbp::train {
namespace {

size_t CodePoints(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string Pad(std::string_view text, size_t width, bool left) {
  const size_t n = CodePoints(text);
  const std::string fill(n >= width ? 0 : width - n, ' ');
  return left ? fill + std::string(text) : std::string(text) + fill;
}

// The epoch table's columns: two spaces apart (labels hold single spaces), each as wide
// as its label and at least kColumnWidth; the epoch column "E/N" is kEpochWidth wide.
constexpr size_t kEpochWidth = 7;
constexpr size_t kColumnWidth = 9;

size_t ColumnWidth(const EpochStatistic& s) {
  return std::max(kColumnWidth, CodePoints(s.label));
}

}  // namespace

const std::vector<EpochStatistic>& EpochStatistics() {
  using F = StatisticFormat;
  static const std::vector<EpochStatistic> kAll = {
      {"epoch", "epoch", "", "1-based epoch of the run", F::kInteger, false,
       [](const EpochMetrics& m) { return static_cast<double>(m.epoch); }},
      {"epochs", "epochs", "", "epochs of the run", F::kInteger, false,
       [](const EpochMetrics& m) { return static_cast<double>(m.epochs); }},
      {"train_loss", "train loss", "per sample",
       "mean loss per training sample, with label injection (§8)", F::kLoss, true,
       [](const EpochMetrics& m) { return m.train_loss; }},
      {"train_accuracy", "train acc", "fraction",
       "training accuracy of the raw outputs, before injection (§9)", F::kPercent, true,
       [](const EpochMetrics& m) { return m.train_accuracy; }},
      {"test_loss", "test loss", "per sample",
       "mean loss per test sample, without injection (§8)", F::kLoss, true,
       [](const EpochMetrics& m) { return m.test_loss; }},
      {"test_accuracy", "test acc", "fraction", "test accuracy (§9)", F::kPercent, true,
       [](const EpochMetrics& m) { return m.test_accuracy; }},
      {"learning_rate", "lr", "", "learning rate of the weights in this epoch (§10)",
       F::kG4, true, [](const EpochMetrics& m) { return m.learning_rate; }},
      {"seconds", "seconds", "s",
       "wall time of the epoch's training and test passes (in this process, if resumed)",
       F::kSeconds, true, [](const EpochMetrics& m) { return m.seconds; }},
      {"train_samples_per_second", "train samples/s", "samples/s",
       "training samples per second of wall time", F::kSeconds, true,
       [](const EpochMetrics& m) { return m.train_samples_per_second; }},
      {"test_samples_per_second", "test samples/s", "samples/s",
       "test samples per second of wall time", F::kSeconds, false,
       [](const EpochMetrics& m) { return m.test_samples_per_second; }},
      {"train_samples", "train samples", "samples", "training samples of the epoch",
       F::kInteger, false,
       [](const EpochMetrics& m) { return static_cast<double>(m.train_samples); }},
      {"test_samples", "test samples", "samples", "test samples of the epoch",
       F::kInteger, false,
       [](const EpochMetrics& m) { return static_cast<double>(m.test_samples); }},
  };
  return kAll;
}

const std::vector<LayerStatistic>& LayerStatistics() {
  using F = StatisticFormat;
  static const std::vector<LayerStatistic> kAll = {
      {"grad_norm", "‖dL/dW‖", "",
       "L2 norm of the weight gradient before clipping (§10), mean over the epoch's "
       "batches",
       F::kSci, [](const LayerStats& l) { return l.grad_norm; }},
      {"grad_mean", "mean dL/dW", "",
       "mean element of the weight gradient (signed), mean over the epoch's batches",
       F::kSci, [](const LayerStats& l) { return l.grad_mean; }},
      {"grad_max_abs", "max |dL/dW|", "",
       "largest |element| of the weight gradient in the epoch", F::kSci,
       [](const LayerStats& l) { return l.grad_max_abs; }},
      {"grad_sum_in", "Σ dL/dt in", "",
       "Σ dL/dt entering the layer's neurons (§3, §14), per batch, mean over the epoch",
       F::kG4, [](const LayerStats& l) { return l.grad_sum_in; }},
      {"grad_sum_out", "Σ dL/dx out", "",
       "Σ dL/dx the layer passes down, with the 0.85 factor (§5, §14; 0 for the first "
       "layer), per batch, mean over the epoch",
       F::kG4, [](const LayerStats& l) { return l.grad_sum_out; }},
      {"firing_rate", "rate", "spikes/neuron/step",
       "spikes per neuron per time step of the raw outputs (§2), over the epoch", F::kG4,
       [](const LayerStats& l) { return l.firing_rate; }},
      {"silent_fraction", "silent", "fraction",
       "share of the layer's neurons that spiked for no sample of the epoch", F::kShare,
       [](const LayerStats& l) { return l.silent_fraction; }},
      {"weight_norm", "‖W‖", "", "L2 norm of the weights after the epoch", F::kG4,
       [](const LayerStats& l) { return l.weight_norm; }},
      {"update_ratio", "‖ΔW‖/‖W‖", "",
       "relative size of one optimiser step (§10), mean over the epoch's steps", F::kSci,
       [](const LayerStats& l) { return l.update_ratio; }},
  };
  return kAll;
}

std::string FormatStatistic(StatisticFormat format, double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  switch (format) {
    case StatisticFormat::kInteger:
      return absl::StrFormat("%.0f", value);
    case StatisticFormat::kLoss:
      return absl::StrFormat("%.4f", value);
    case StatisticFormat::kPercent:
      return absl::StrFormat("%.2f%%", 100 * value);
    case StatisticFormat::kShare: {
      // 3 significant digits, so that 0.00023 is "0.023%", not "0.0%"; a share that
      // is neither 0 nor 1 never rounds to either.
      std::string text = absl::StrFormat("%.3g", 100 * value);
      if (value > 0 && value < 1 && text == "100") text = "99.9";
      return text + "%";
    }
    case StatisticFormat::kG4:
      return absl::StrFormat("%.4g", value);
    case StatisticFormat::kSeconds:
      return absl::StrFormat("%.1f", value);
    case StatisticFormat::kSci:
      return absl::StrFormat("%.3e", value);
  }
  return absl::StrFormat("%g", value);
}

std::string EpochTableHeader() {
  std::string out = Pad("epoch", kEpochWidth, true);
  for (const EpochStatistic& s : EpochStatistics()) {
    if (s.in_table) absl::StrAppend(&out, "  ", Pad(s.label, ColumnWidth(s), true));
  }
  return out + "\n";
}

std::string EpochTableRow(const EpochMetrics& m) {
  std::string out = Pad(absl::StrCat(m.epoch, "/", m.epochs), kEpochWidth, true);
  for (const EpochStatistic& s : EpochStatistics()) {
    if (!s.in_table) continue;
    absl::StrAppend(&out, "  ",
                    Pad(FormatStatistic(s.format, s.get(m)), ColumnWidth(s), true));
  }
  if (m.best) out += "  *best";
  return out + "\n";
}

std::string LayerTable(const std::vector<LayerStats>& layers, std::string_view indent) {
  if (layers.empty()) return "";
  const std::vector<LayerStatistic>& stats = LayerStatistics();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"layer"};
  for (const LayerStatistic& s : stats) header.emplace_back(s.label);
  rows.push_back(std::move(header));
  for (const LayerStats& l : layers) {
    std::vector<std::string> row = {l.name};
    for (const LayerStatistic& s : stats)
      row.push_back(FormatStatistic(s.format, s.get(l)));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(stats.size() + 1, 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], CodePoints(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += Pad(row[i], widths[i], /*left=*/i > 0);
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string StatisticsMarkdown() {
  std::string out = "| name | label | unit | meaning |\n|---|---|---|---|\n";
  auto row = [&](std::string_view prefix, std::string_view name, std::string_view label,
                 std::string_view unit, std::string_view meaning) {
    // A "|" inside a cell ("max |dL/dW|") is written "\|".
    const auto cell = [&](std::string_view text) {
      for (const char c : text) {
        if (c == '|') out += '\\';
        out += c;
      }
    };
    out += "| `";
    out.append(prefix);
    out.append(name);
    out += "` | ";
    cell(label);
    out += " | ";
    cell(unit.empty() ? std::string_view("–") : unit);
    out += " | ";
    cell(meaning);
    out += " |\n";
  };
  for (const EpochStatistic& s : EpochStatistics()) {
    row("", s.name, s.label, s.unit, s.meaning);
  }
  for (const LayerStatistic& s : LayerStatistics()) {
    row("layers[].", s.name, s.label, s.unit, s.meaning);
  }
  return out;
}

}  // namespace edbp::train

#include "client/cli/format.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/job_name.h"
#include "core/train/statistics.h"

namespace edbp::cli {
namespace {

size_t DisplayWidth(std::string_view text) {
  // Counts UTF-8 code points: every byte that is not a continuation byte.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Columns separated by two spaces; each column as wide as its widest cell.
class Table {
 public:
  // `right_aligned[i]`: column i is aligned right (numbers).
  explicit Table(std::vector<bool> right_aligned)
      : right_aligned_(std::move(right_aligned)) {}

  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  std::string Render(std::string_view indent) const {
    std::vector<size_t> widths(right_aligned_.size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        widths[i] = std::max(widths[i], DisplayWidth(row[i]));
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line(indent);
      for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        if (i > 0) line += "  ";
        const bool last = i + 1 == row.size();
        if (right_aligned_[i]) {
          line += PadLeft(row[i], widths[i]);
        } else {
          line += last ? row[i] : PadRight(row[i], widths[i]);
        }
      }
      absl::StrAppend(&out, line, "\n");
    }
    return out;
  }

 private:
  std::vector<bool> right_aligned_;
  std::vector<std::vector<std::string>> rows_;
};

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

}  // namespace

std::string PadLeft(const std::string& text, size_t width) {
  const size_t w = DisplayWidth(text);
  return w >= width ? text : std::string(width - w, ' ') + text;
}

std::string PadRight(const std::string& text, size_t width) {
  const size_t w = DisplayWidth(text);
  return w >= width ? text : text + std::string(width - w, ' ');
}

std::string StateName(v1::JobState state) {
  const std::string& name = v1::JobState_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state)) : name;
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(time.seconds()),
                          absl::LocalTimeZone());
}

std::string FormatPercent(double fraction) {
  if (fraction < 0) return "-";
  return absl::StrFormat("%.2f%%", 100 * fraction);
}

std::string FormatJobTable(const std::vector<v1::Job>& jobs) {
  Table table({true, false, false, true, true, true, false, false});
  table.AddRow(
      {"ID", "NAME", "STATE", "PRIORITY", "EPOCH", "BEST_ACC", "DEVICE", "CREATED"});
  for (const v1::Job& job : jobs) {
    table.AddRow({std::string(ShortJobId(job.name())), OrDash(job.display_name()),
                  StateName(job.state()), absl::StrCat(job.priority()),
                  absl::StrCat(job.last_epoch(), "/", job.epochs()),
                  FormatPercent(job.best_test_accuracy()), OrDash(job.device()),
                  FormatTime(job.create_time())});
  }
  return table.Render("");
}

std::string SweepStateName(v1::SweepState state) {
  switch (state) {
    case v1::SWEEP_RUNNING:
      return "RUNNING";
    case v1::SWEEP_FINISHED:
      return "FINISHED";
    case v1::SWEEP_CANCELLED:
      return "CANCELLED";
    default:
      return "-";
  }
}

std::string FormatSweepTable(const std::vector<v1::Sweep>& sweeps) {
  Table table({false, false, false, true, true, true, false, false});
  table.AddRow(
      {"SWEEP", "NAME", "STATE", "TRIALS", "STOPPED", "BEST_ACC", "BEST_JOB", "CREATED"});
  for (const v1::Sweep& sweep : sweeps) {
    table.AddRow({sweep.name(), OrDash(sweep.display_name()),
                  SweepStateName(sweep.state()), absl::StrCat(sweep.trials_size()),
                  absl::StrCat(sweep.stopped_early()),
                  FormatPercent(sweep.best_test_accuracy()), OrDash(sweep.best_job()),
                  FormatTime(sweep.create_time())});
  }
  return table.Render("");
}

std::string FormatSweepDetails(const v1::Sweep& sweep,
                               const std::map<std::string, v1::Job>& jobs) {
  Table head({false, false});
  head.AddRow({"name:", OrDash(sweep.name())});
  head.AddRow({"display name:", OrDash(sweep.display_name())});
  head.AddRow({"state:", SweepStateName(sweep.state())});
  head.AddRow({"trials:", absl::StrCat(sweep.trials_size(), " (", sweep.stopped_early(),
                                       " stopped early)")});
  const char* policy =
      sweep.early_stopping().policy() == v1::EarlyStopping::MEDIAN ? "median"
      : sweep.early_stopping().policy() == v1::EarlyStopping::SUCCESSIVE_HALVING
          ? "successive halving"
          : "none";
  head.AddRow({"early stopping:", policy});
  head.AddRow({"sampling seed:", absl::StrCat(sweep.sampling_seed())});
  head.AddRow(
      {"best:", sweep.best_job().empty()
                    ? "-"
                    : absl::StrCat(sweep.best_job(), " (",
                                   FormatPercent(sweep.best_test_accuracy()), ")")});
  head.AddRow({"created:", FormatTime(sweep.create_time())});
  Table trials({true, false, false, true, true, false, false});
  trials.AddRow({"TRIAL", "JOB", "STATE", "EPOCH", "BEST_ACC", "PARAMETERS", "NOTE"});
  for (const v1::Trial& trial : sweep.trials()) {
    std::vector<std::string> params;
    for (const v1::TrialParameter& p : trial.parameters()) {
      params.push_back(absl::StrCat(p.key(), "=", p.value()));
    }
    params.push_back(absl::StrCat("seed=", trial.seed()));
    const auto found = jobs.find(trial.job());
    const bool known = found != jobs.end();
    std::string note =
        known ? found->second.error() : (trial.job().empty() ? "" : "deleted");
    if (const size_t nl = note.find('\n'); nl != std::string::npos) note.resize(nl);
    trials.AddRow(
        {absl::StrCat(trial.index()), OrDash(trial.job()),
         known ? StateName(found->second.state()) : "-",
         known ? absl::StrCat(found->second.last_epoch(), "/", found->second.epochs())
               : "-",
         known ? FormatPercent(found->second.best_test_accuracy()) : "-",
         absl::StrJoin(params, " "), OrDash(note)});
  }
  return head.Render("") + trials.Render("");
}

std::string FormatJobDetails(const v1::Job& job) {
  Table table({false, false});
  table.AddRow({"name:", job.name()});
  table.AddRow({"display name:", OrDash(job.display_name())});
  table.AddRow({"state:", StateName(job.state())});
  if (!job.error().empty()) table.AddRow({"error:", job.error()});
  table.AddRow({"priority:", absl::StrCat(job.priority())});
  table.AddRow({"device:", OrDash(job.device())});
  // Jobs stored before issue 18 have no resources: one rank.
  table.AddRow({"workers:",
                absl::StrCat(std::max(1, job.workers()), " (", job.gpus_per_worker(),
                             " GPU(s) each, ", std::max(1, job.nodes()), " node(s))")});
  if (!job.slurm_job_id().empty()) table.AddRow({"slurm job:", job.slurm_job_id()});
  table.AddRow({"epochs:", absl::StrCat(job.last_epoch(), "/", job.epochs())});
  table.AddRow({"seed:", absl::StrCat(job.seed())});
  // Jobs created before issue 19 have none stored: edbp-train's default.
  std::string every = "- (edbp-train's default)";
  if (job.has_progress_every()) {
    every = job.progress_every() == 0
                ? "none (progress every 0 batches)"
                : absl::StrCat("every ", job.progress_every(), " batches");
  }
  table.AddRow({"progress:", every});
  if (!job.init_from().empty()) table.AddRow({"init from:", job.init_from()});
  if (!job.sweep().empty()) table.AddRow({"sweep:", job.sweep()});
  table.AddRow({"best test acc:", FormatPercent(job.best_test_accuracy())});
  table.AddRow({"created:", FormatTime(job.create_time())});
  table.AddRow({"started:", FormatTime(job.start_time())});
  table.AddRow({"ended:", FormatTime(job.end_time())});
  table.AddRow({"last event:", absl::StrCat(job.last_sequence())});
  std::string out = table.Render("");
  out += "config:\n";
  for (absl::string_view line : absl::StrSplit(job.config_yaml(), '\n')) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  // The YAML's own final newline would add an empty indented line.
  if (absl::EndsWith(job.config_yaml(), "\n")) out.resize(out.size() - 3);
  return out;
}

train::EpochMetrics ToTrainMetrics(const v1::EpochMetrics& m) {
  train::EpochMetrics t;
  t.epoch = m.epoch();
  t.epochs = m.epochs();
  t.train_loss = m.train_loss();
  t.train_accuracy = m.train_accuracy();
  t.test_loss = m.test_loss();
  t.test_accuracy = m.test_accuracy();
  t.learning_rate = m.learning_rate();
  t.seconds = m.seconds();
  t.train_samples_per_second = m.train_samples_per_second();
  t.test_samples_per_second = m.test_samples_per_second();
  t.train_samples = m.train_samples();
  t.test_samples = m.test_samples();
  t.n_class = m.n_class();
  t.confusion.assign(m.confusion().begin(), m.confusion().end());
  for (const v1::LayerGradientStats& l : m.layers()) {
    t.layers.push_back({.name = l.name(),
                        .index = l.index(),
                        .grad_norm = l.grad_norm(),
                        .grad_mean = l.grad_mean(),
                        .grad_max_abs = l.grad_max_abs(),
                        .grad_sum_in = l.grad_sum_in(),
                        .grad_sum_out = l.grad_sum_out(),
                        .firing_rate = l.firing_rate(),
                        .silent_fraction = l.silent_fraction(),
                        .weight_norm = l.weight_norm(),
                        .update_ratio = l.update_ratio()});
  }
  t.best = m.best();
  return t;
}

std::string FormatEpochHeader() { return train::EpochTableHeader(); }

std::string FormatEpochRow(const v1::EpochMetrics& m) {
  return train::EpochTableRow(ToTrainMetrics(m));
}

std::string FormatLayerTable(const v1::EpochMetrics& m) {
  return train::LayerTable(ToTrainMetrics(m).layers, "    ");
}

std::string FormatProgress(const v1::Progress& p, bool bar,
                           std::optional<double> job_eta_seconds) {
  std::string out = absl::StrCat("epoch ", p.epoch(), "  ");
  if (bar) {
    constexpr int kWidth = 20;
    const double done =
        p.batches() > 0
            ? std::clamp(static_cast<double>(p.batch()) / p.batches(), 0.0, 1.0)
            : 0.0;
    const int filled = static_cast<int>(done * kWidth);
    absl::StrAppend(&out, "[", std::string(filled, '#'),
                    std::string(kWidth - filled, '.'), "] ");
  }
  absl::StrAppendFormat(&out,
                        "%sbatch %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  eta %.0fs",
                        p.phase() == v1::Progress::TEST ? "test " : "", p.batch(),
                        p.batches(), p.running_loss(), 100 * p.running_accuracy(),
                        p.samples_per_second(), p.eta_seconds());
  if (job_eta_seconds.has_value()) {
    absl::StrAppend(&out, "  job eta ", FormatDuration(*job_eta_seconds));
  }
  return out;
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "-";
  if (seconds >= 1e12) return ">30000y";  // no int64 overflow below
  const int64_t s = std::llround(seconds);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrFormat("%dh %02dm", s / 3600, (s % 3600) / 60);
}

std::string FormatStateChange(const v1::StateChange& change) {
  std::string out = absl::StrCat("state: ", StateName(change.state()));
  if (!change.device().empty()) absl::StrAppend(&out, " on ", change.device());
  if (!change.error().empty()) absl::StrAppend(&out, ": ", change.error());
  return out + "\n";
}

std::string FormatCheckpoint(const v1::CheckpointSaved& saved) {
  return absl::StrCat("checkpoint: ", saved.kind(), " saved after epoch ", saved.epoch(),
                      saved.path().empty() ? "" : ": ", saved.path(), "\n");
}

std::string FormatLogLine(const google::protobuf::Timestamp& time,
                          const v1::LogLine& log) {
  std::string_view level = "INFO";
  if (log.level() == v1::LogLine::WARNING) level = "WARN";
  if (log.level() == v1::LogLine::ERROR) level = "ERROR";
  std::string text = log.text();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return absl::StrCat(FormatTime(time), " ", PadRight(std::string(level), 5), " ", text,
                      "\n");
}

}  // namespace edbp::cli

#include "core/train/metrics.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/train/statistics.h"
#include "nlohmann/json.hpp"

namespace edbp::train {

const char* PhaseName(Phase phase) { return phase == Phase::kTest ? "test" : "train"; }

void MultiSink::OnProgress(const ProgressRecord& r) {
  for (MetricsSink* s : sinks_) s->OnProgress(r);
}
void MultiSink::OnEpoch(const EpochMetrics& m) {
  for (MetricsSink* s : sinks_) s->OnEpoch(m);
}
void MultiSink::OnCheckpoint(const CheckpointRecord& r) {
  for (MetricsSink* s : sinks_) s->OnCheckpoint(r);
}

std::string ToJson(const EpochMetrics& m) {
  // The names of statistics.h, which every other view uses too.
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerStats& l : m.layers) {
    nlohmann::json layer = {{"name", l.name}, {"index", l.index}};
    for (const LayerStatistic& s : LayerStatistics())
      layer[std::string(s.name)] = s.get(l);
    layers.push_back(std::move(layer));
  }
  nlohmann::json j = {{"type", "epoch"}, {"record", m.record}};
  for (const EpochStatistic& s : EpochStatistics()) {
    const double value = s.get(m);
    if (s.format == StatisticFormat::kInteger) {
      j[std::string(s.name)] = static_cast<int64_t>(value);
    } else {
      j[std::string(s.name)] = value;
    }
  }
  j["n_class"] = m.n_class;
  j["confusion"] = m.confusion;
  j["best"] = m.best;
  j["layers"] = std::move(layers);
  return j.dump();
}

std::string ToJson(const ProgressRecord& r) {
  const nlohmann::json j = {{"type", "progress"},
                            {"record", r.record},
                            {"epoch", r.epoch},
                            {"batch", r.batch},
                            {"batches", r.batches},
                            {"running_loss", r.running_loss},
                            {"running_accuracy", r.running_accuracy},
                            {"samples_per_second", r.samples_per_second},
                            {"eta_seconds", r.eta_seconds},
                            {"phase", PhaseName(r.phase)},
                            {"epochs", r.epochs}};
  return j.dump();
}

std::string ToJson(const CheckpointRecord& r) {
  const nlohmann::json j = {{"type", "checkpoint"},
                            {"record", r.record},
                            {"epoch", r.epoch},
                            {"kind", r.kind},
                            {"path", r.path}};
  return j.dump();
}

absl::StatusOr<std::unique_ptr<JsonlSink>> JsonlSink::Open(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);  // fopen reports
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) {
    const std::string why = std::strerror(errno);
    const std::string msg = absl::StrCat(path, ": cannot open for writing: ", why);
    return errno == EACCES ? absl::PermissionDeniedError(msg) : absl::NotFoundError(msg);
  }
  return std::unique_ptr<JsonlSink>(new JsonlSink(f));
}

JsonlSink::~JsonlSink() { std::fclose(file_); }

void JsonlSink::Write(const std::string& line) {
  std::fputs(line.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

void JsonlSink::OnProgress(const ProgressRecord& r) { Write(ToJson(r)); }
void JsonlSink::OnEpoch(const EpochMetrics& m) { Write(ToJson(m)); }
void JsonlSink::OnCheckpoint(const CheckpointRecord& r) { Write(ToJson(r)); }

}  // namespace edbp::train

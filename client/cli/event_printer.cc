#include "client/cli/event_printer.h"

#include "client/cli/format.h"

namespace edbp::cli {

void EventPrinter::Print(const v1::Event& event) {
  if (json_) {
    out_ << ToJson(event) << "\n" << std::flush;
    return;
  }
  switch (event.kind_case()) {
    case v1::Event::kProgress:
      eta_.OnProgress(event.progress());
      if (live_) {
        out_ << "\r\033[K"
             << FormatProgress(event.progress(), /*bar=*/true, eta_.JobSeconds())
             << std::flush;
        progress_open_ = true;
      } else {
        BeginLine();
        out_ << FormatProgress(event.progress(), /*bar=*/false, eta_.JobSeconds())
             << "\n";
        after_epoch_row_ = false;
      }
      break;
    case v1::Event::kEpochMetrics:
      EpochRow(event.epoch_metrics());
      PrintLayerTable(event.epoch_metrics());
      break;
    case v1::Event::kStateChange:
      BeginLine();
      out_ << FormatStateChange(event.state_change());
      break;
    case v1::Event::kLog:
      BeginLine();
      out_ << FormatLogLine(event.time(), event.log());
      break;
    case v1::Event::kCheckpointSaved:
      BeginLine();
      out_ << FormatCheckpoint(event.checkpoint_saved());
      break;
    case v1::Event::KIND_NOT_SET:
      return;  // an event kind newer than this client: skip it
  }
  out_ << std::flush;
}

void EventPrinter::PrintEpochRow(const v1::Event& event) {
  if (json_) {
    Print(event);
  } else if (event.has_epoch_metrics()) {
    EpochRow(event.epoch_metrics());
    out_ << std::flush;
  }
}

void EventPrinter::PrintLayerTable(const v1::EpochMetrics& metrics) {
  if (json_ || metrics.layers().empty()) return;
  BeginLine();
  out_ << FormatLayerTable(metrics) << std::flush;
}

void EventPrinter::Finish() {
  if (progress_open_) {
    out_ << "\r\033[K" << std::flush;
    progress_open_ = false;
  }
}

void EventPrinter::BeginLine() {
  Finish();
  after_epoch_row_ = false;
}

void EventPrinter::EpochRow(const v1::EpochMetrics& metrics) {
  eta_.OnEpoch(metrics);
  const bool header = !after_epoch_row_;
  BeginLine();
  if (header) out_ << FormatEpochHeader();
  out_ << FormatEpochRow(metrics);
  after_epoch_row_ = true;
}

}  // namespace edbp::cli

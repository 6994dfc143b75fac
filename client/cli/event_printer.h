// Prints a job's events (WatchJob) as text or JSON lines.
#ifndef EDBP_CLIENT_CLI_EVENT_PRINTER_H_
#define EDBP_CLIENT_CLI_EVENT_PRINTER_H_

#include <ostream>

#include "client/cli/args.h"
#include "client/common/job_eta.h"
#include "edbp/v1/training_service.pb.h"

namespace edbp::cli {

// Not thread-safe; one per stream. In text mode an epoch's row is preceded by the
// table header unless the line before it was another epoch row, and with `live` (a
// terminal) progress records rewrite one line in place, erased before anything else is
// printed; a progress line ends with the job's time left (job_eta.h) once the epoch
// records and progress printed so far tell it. In JSON mode every printed event is
// one line of JSON.
class EventPrinter {
 public:
  EventPrinter(std::ostream& out, OutputFormat format, bool live)
      : out_(out), json_(format == OutputFormat::kJson), live_(live && !json_) {}
  ~EventPrinter() { Finish(); }

  EventPrinter(const EventPrinter&) = delete;
  EventPrinter& operator=(const EventPrinter&) = delete;

  // The event in full: an epoch's row and its layer table, a progress line, ...
  void Print(const v1::Event& event);
  // An epoch's row only (text), or the whole event (JSON).
  void PrintEpochRow(const v1::Event& event);
  // The layer table of an epoch printed before with PrintEpochRow (text only).
  void PrintLayerTable(const v1::EpochMetrics& metrics);
  // Erases a pending live progress line.
  void Finish();

 private:
  void BeginLine();  // erases the live progress line, if any
  void EpochRow(const v1::EpochMetrics& metrics);

  std::ostream& out_;
  const bool json_;
  const bool live_;
  bool progress_open_ = false;    // a live progress line is on screen
  bool after_epoch_row_ = false;  // the last line printed was an epoch row
  client::JobEta eta_;            // fed the epochs and progress printed
};

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_EVENT_PRINTER_H_

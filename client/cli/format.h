// Text and JSON renderings of the public API's messages for edbp-client.
//
// Every function is pure: it returns the text (ending in "\n" where it is whole
// lines) and writes nothing.
#ifndef EDBP_CLIENT_CLI_FORMAT_H_
#define EDBP_CLIENT_CLI_FORMAT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/common/json.h"
#include "core/train/metrics.h"
#include "edbp/v1/job.pb.h"
#include "edbp/v1/metrics.pb.h"
#include "edbp/v1/sweep.pb.h"
#include "edbp/v1/training_service.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace edbp::cli {

// The message as one line of JSON (proto field names, every field present), no "\n".
using client::ToJson;

// "QUEUED", "RUNNING", ...
std::string StateName(v1::JobState state);

// Local time "2026-11-30 14:03:07"; "-" when unset.
std::string FormatTime(const google::protobuf::Timestamp& time);

// A fraction in [0, 1] as "91.23%"; "-" when negative (not known yet).
std::string FormatPercent(double fraction);

// The jobs as a table: ID NAME STATE PRIORITY EPOCH BEST_ACC DEVICE CREATED.
std::string FormatJobTable(const std::vector<v1::Job>& jobs);

// Every field of the job, one per line, then its config indented.
std::string FormatJobDetails(const v1::Job& job);

// Sweeps: "RUNNING", "FINISHED", "CANCELLED"; the `sweeps` table; `get sweeps/ID`
// with a row per trial (`jobs`: the trials' jobs by name, as fetched; a missing one
// was deleted).
std::string SweepStateName(v1::SweepState state);
std::string FormatSweepTable(const std::vector<v1::Sweep>& sweeps);
std::string FormatSweepDetails(const v1::Sweep& sweep,
                               const std::map<std::string, v1::Job>& jobs);

// The API's epoch record as edbp-train's (core/train/metrics.h): every field of the
// message has its member (the two are one vocabulary, core/train/statistics.h).
train::EpochMetrics ToTrainMetrics(const v1::EpochMetrics& m);

// The header line of the per-epoch table, and one row of it: edbp-train's console
// table (train::EpochTableHeader, EpochTableRow), column for column.
std::string FormatEpochHeader();
std::string FormatEpochRow(const v1::EpochMetrics& m);

// The per-layer table of an epoch, indented under its row, with the labels and formats
// of train::LayerStatistics(). Empty when the epoch has no layers.
std::string FormatLayerTable(const v1::EpochMetrics& m);

// The progress within an epoch's pass as one line without "\n" ("test batch" in the
// test pass); with `bar` a bar of #; with `job_eta_seconds` the job's time left
// (job_eta.h) after the pass's own eta.
std::string FormatProgress(const v1::Progress& p, bool bar,
                           std::optional<double> job_eta_seconds = std::nullopt);

// Seconds as "42s", "3m 05s", "2h 07m" (rounded to the second); "-" when negative or
// not finite.
std::string FormatDuration(double seconds);

// One line each (with "\n"): a state change, a saved checkpoint (with its path on the
// server's machine where the event has one), a log line (with the event's time).
std::string FormatStateChange(const v1::StateChange& change);
std::string FormatCheckpoint(const v1::CheckpointSaved& saved);
std::string FormatLogLine(const google::protobuf::Timestamp& time,
                          const v1::LogLine& log);

// Pads `text` to `width` columns (UTF-8 aware: one column per code point).
std::string PadLeft(const std::string& text, size_t width);
std::string PadRight(const std::string& text, size_t width);

}  // namespace edbp::cli

#endif  // EDBP_CLIENT_CLI_FORMAT_H_

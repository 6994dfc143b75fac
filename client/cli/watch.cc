// The streaming commands of Client: watch (and submit --follow) and logs.
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/client.h"
#include "client/cli/event_printer.h"
#include "client/cli/format.h"

namespace edbp::cli {
namespace {

// Consecutive reconnects without a new event before watch gives up.
constexpr int kMaxReconnects = 3;

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

}  // namespace

ExitCode Client::Watch(const std::string& job, bool from_start) {
  // Events up to history_end happened before the watch began: without --from-start
  // only their epoch rows (and the latest epoch's layer table) and state changes are
  // shown.
  int64_t history_end = 0;
  if (!from_start) {
    v1::Job current;
    const grpc::Status status = FetchJob(job, &current);
    if (!status.ok()) return Fail(status);
    history_end = current.last_sequence();
  }

  EventPrinter printer(out_, options_.output, interactive_);
  std::optional<v1::EpochMetrics> latest_epoch;  // of the history, table not shown yet
  auto end_history = [&] {
    if (latest_epoch.has_value()) printer.PrintLayerTable(*latest_epoch);
    latest_epoch.reset();
  };
  v1::JobState last_state = v1::JOB_STATE_UNSPECIFIED;
  int64_t next_sequence = 1;
  bool reached = !from_start;  // the server answered at least once
  int reconnects = 0;
  for (;;) {
    grpc::ClientContext context;  // no deadline: the stream lasts as long as the job
    v1::WatchJobRequest request;
    request.set_name(job);
    request.set_from_sequence(next_sequence);
    std::unique_ptr<grpc::ClientReader<v1::Event>> reader =
        stub_->WatchJob(&context, request);
    v1::Event event;
    while (reader->Read(&event)) {
      if (event.sequence() < next_sequence) continue;  // seen before a reconnect
      reached = true;
      reconnects = 0;
      next_sequence = event.sequence() + 1;
      if (event.has_state_change()) last_state = event.state_change().state();
      if (event.sequence() > history_end) {
        end_history();
        printer.Print(event);
        continue;
      }
      if (event.has_epoch_metrics()) {
        printer.PrintEpochRow(event);
        latest_epoch = event.epoch_metrics();
      } else if (event.has_state_change()) {
        printer.Print(event);
      }
      if (event.sequence() == history_end) end_history();
    }
    const grpc::Status status = reader->Finish();
    if (status.ok()) break;
    printer.Finish();
    // A server restart keeps the sequence numbers: resume after the last event.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || !reached ||
        ++reconnects > kMaxReconnects) {
      return Fail(status);
    }
    err_ << "edbp-client: lost the event stream (" << status.error_message()
         << "); reconnecting\n"
         << std::flush;
    if (!channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + options_.timeout))) {
      return Unreachable(absl::StrCat("no connection within ",
                                      absl::FormatDuration(options_.timeout),
                                      " after the event stream broke"));
    }
  }
  end_history();
  printer.Finish();
  return Outcome(job, last_state);
}

ExitCode Client::Outcome(const std::string& job, v1::JobState last_state_seen) {
  v1::JobState state = last_state_seen;
  if (!IsTerminal(state)) {
    v1::Job current;
    const grpc::Status status = FetchJob(job, &current);
    if (!status.ok()) return Fail(status);
    state = current.state();
  }
  switch (state) {
    case v1::SUCCEEDED:
      return ExitCode::kOk;
    case v1::FAILED:
    case v1::CANCELLED:
      return ExitCode::kFailed;
    default:
      PrintError(absl::StrCat("the event stream of ", job, " ended while the job is ",
                              StateName(state)));
      return ExitCode::kFailed;
  }
}

ExitCode Client::Logs() {
  // The log so far ends at the job's latest event; the stream itself would follow the
  // job until it ends.
  v1::Job current;
  grpc::Status status = FetchJob(options_.job, &current);
  if (!status.ok()) return Fail(status);
  const int64_t last = current.last_sequence();
  if (last <= 0) return ExitCode::kOk;

  EventPrinter printer(out_, options_.output, /*live=*/false);
  grpc::ClientContext context;
  v1::WatchJobRequest request;
  request.set_name(options_.job);
  request.set_from_sequence(1);
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader =
      stub_->WatchJob(&context, request);
  v1::Event event;
  bool cancelled = false;
  while (reader->Read(&event)) {
    if (event.sequence() <= last && event.has_log()) printer.Print(event);
    if (event.sequence() >= last) {
      context.TryCancel();
      cancelled = true;
      while (reader->Read(&event)) {
      }
      break;
    }
  }
  status = reader->Finish();
  if (!status.ok() &&
      !(cancelled && status.error_code() == grpc::StatusCode::CANCELLED)) {
    return Fail(status);
  }
  return ExitCode::kOk;
}

}  // namespace edbp::cli

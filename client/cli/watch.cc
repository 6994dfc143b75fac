// The streaming commands of Client: watch (and submit --follow) and logs, both over
// the clients' one WatchJob follower (client/common/job_stream.h).
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli/client.h"
#include "client/cli/event_printer.h"
#include "client/cli/follow_summary.h"
#include "client/cli/format.h"
#include "client/common/job_stream.h"
#include "nlohmann/json.hpp"

namespace edbp::cli {
namespace {

using client::StreamItem;

// Consecutive failed attempts (broken streams, unanswered probes) without a new event
// before watch gives up.
constexpr int kMaxFailedAttempts = 4;

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

}  // namespace

std::string Client::CommandPrefix() const {
  std::string out = absl::StrCat("edbp-client --server ", ShellQuote(options_.server));
  if (!options_.token_file.empty()) {
    absl::StrAppend(&out, " --token-file ", ShellQuote(options_.token_file));
  }
  if (options_.tls) out += " --tls";
  if (!options_.ca_cert.empty())
    absl::StrAppend(&out, " --ca-cert ", ShellQuote(options_.ca_cert));
  if (!options_.cert.empty())
    absl::StrAppend(&out, " --cert ", ShellQuote(options_.cert));
  if (!options_.key.empty()) absl::StrAppend(&out, " --key ", ShellQuote(options_.key));
  return out;
}

ExitCode Client::Watch(const std::string& job, bool from_start) {
  // Events up to history_end happened before the watch began: without --from-start
  // only their epoch rows (and the latest epoch's layer table), state changes, and the
  // log lines after the job was queued again (a resume, a server restart: they say why
  // and from where it continues) are shown.
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
  FollowSummary summary;  // of every event, the history's too
  bool started = false;   // the history had a state change
  bool requeued = false;  // ... and then one to QUEUED
  // A server restart keeps the sequence numbers: the stream resumes after the last
  // event. Where the server never answered (--from-start asks nothing first) the
  // address is wrong, not the server away: fail at once.
  client::FollowPolicy policy;
  policy.fail_if_never_reached = from_start;
  policy.max_failed_attempts = kMaxFailedAttempts;
  policy.probe_wait = options_.timeout;
  client::JobStream stream(stub_.get(), job, /*from_sequence=*/1, policy);
  while (std::optional<StreamItem> item = stream.Next(absl::InfiniteDuration())) {
    switch (item->kind) {
      case StreamItem::Kind::kEvent:
        break;
      case StreamItem::Kind::kUnreachable:
        printer.Finish();
        err_ << "edbp-client: lost the event stream (" << item->status.error_message()
             << "); reconnecting\n"
             << std::flush;
        continue;
      case StreamItem::Kind::kReachable:
      case StreamItem::Kind::kEnd:
        continue;
      case StreamItem::Kind::kError:
        printer.Finish();
        return Fail(item->status);
    }
    const v1::Event& event = item->event;
    summary.Observe(event);
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
      requeued = requeued || (started && event.state_change().state() == v1::QUEUED);
      started = true;
      printer.Print(event);
    } else if (event.has_log() && requeued) {
      printer.Print(event);
    }
    if (event.sequence() == history_end) end_history();
  }
  end_history();
  printer.Finish();
  if (options_.output == OutputFormat::kText) {
    // The summary of an ended job: its state and reason, best epoch, checkpoints.
    v1::Job ended;
    if (FetchJob(job, &ended).ok() && IsTerminal(ended.state())) {
      out_ << summary.Format(ended, CommandPrefix()) << std::flush;
      last_state = ended.state();
    }
  }
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
  if (options_.events) return LogEvents();
  v1::ReadJobLogRequest request;
  request.set_name(options_.job);
  request.set_follow(options_.follow);
  grpc::ClientContext context;  // no deadline: --follow lasts as long as the job
  std::unique_ptr<grpc::ClientReader<v1::LogChunk>> reader =
      stub_->ReadJobLog(&context, request);
  v1::LogChunk chunk;
  std::string partial;  // --output json: the start of a line not ended yet
  auto emit_line = [&](absl::string_view line) {
    out_ << nlohmann::json{{"job", options_.job}, {"line", line}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace)
         << "\n";
  };
  while (reader->Read(&chunk)) {
    if (options_.output == OutputFormat::kText) {
      out_ << chunk.data() << std::flush;
      continue;
    }
    partial += chunk.data();
    size_t start = 0;
    for (size_t nl = partial.find('\n'); nl != std::string::npos;
         nl = partial.find('\n', start)) {
      emit_line(absl::string_view(partial).substr(start, nl - start));
      start = nl + 1;
    }
    partial.erase(0, start);
    out_ << std::flush;
  }
  if (!partial.empty()) emit_line(partial);
  out_ << std::flush;
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return Fail(status);
  return ExitCode::kOk;
}

ExitCode Client::LogEvents() {
  // The log so far ends at the job's latest event; the stream itself would follow the
  // job until it ends.
  v1::Job current;
  const grpc::Status status = FetchJob(options_.job, &current);
  if (!status.ok()) return Fail(status);
  const int64_t last = current.last_sequence();
  if (last <= 0) return ExitCode::kOk;

  EventPrinter printer(out_, options_.output, /*live=*/false);
  // A snapshot, not a watch: the first failure is the answer.
  client::FollowPolicy policy;
  policy.max_failed_attempts = 1;
  client::JobStream stream(stub_.get(), options_.job, /*from_sequence=*/1, policy);
  while (std::optional<StreamItem> item = stream.Next(absl::InfiniteDuration())) {
    if (item->kind == StreamItem::Kind::kError) return Fail(item->status);
    if (item->kind != StreamItem::Kind::kEvent) continue;
    if (item->event.has_log()) printer.Print(item->event);
    if (item->event.sequence() >= last) break;  // ~JobStream cancels the stream
  }
  return ExitCode::kOk;
}

}  // namespace edbp::cli

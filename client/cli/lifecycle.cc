// The job-lifecycle commands of Client (delete, resume), the metrics export, and the
// lookup of jobs by display name.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/job_name.h"
#include "client/cli/client.h"
#include "client/cli/format.h"
#include "client/common/job_stream.h"
#include "core/train/statistics.h"
#include "nlohmann/json.hpp"

namespace edbp::cli {
namespace {

using client::StreamItem;

// The per-epoch fields of the export, in column order: (name, value), with the names of
// core/train/statistics.h (those of edbp-train --metrics-jsonl).
std::vector<std::pair<std::string, nlohmann::json>> EpochFields(
    const v1::EpochMetrics& m) {
  const train::EpochMetrics t = ToTrainMetrics(m);
  std::vector<std::pair<std::string, nlohmann::json>> fields;
  for (const train::EpochStatistic& s : train::EpochStatistics()) {
    const double value = s.get(t);
    if (s.format == train::StatisticFormat::kInteger) {
      fields.emplace_back(s.name, static_cast<int64_t>(value));
    } else {
      fields.emplace_back(s.name, value);
    }
  }
  fields.emplace_back("best", m.best());
  return fields;
}

std::vector<std::pair<std::string, nlohmann::json>> LayerFields(
    const v1::LayerGradientStats& l) {
  v1::EpochMetrics one;
  *one.add_layers() = l;
  const train::LayerStats t = ToTrainMetrics(one).layers[0];
  std::vector<std::pair<std::string, nlohmann::json>> fields;
  for (const train::LayerStatistic& s : train::LayerStatistics()) {
    fields.emplace_back(s.name, s.get(t));
  }
  return fields;
}

// A CSV cell: numbers as JSON writes them (shortest round trip), text quoted when it
// holds a comma, quote or line break.
std::string Cell(const nlohmann::json& value) {
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (!value.is_string()) return value.dump();
  std::string text = value.get<std::string>();
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

grpc::Status Client::ResolveDisplayName(const std::string& display_name,
                                        std::string* job) {
  v1::ListJobsRequest request;
  request.set_display_name(display_name);
  request.set_page_size(2);  // one more than a unique name has
  v1::ListJobsResponse response;
  grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->ListJobs(c, request, &response); },
      /*retry=*/true);
  if (!status.ok()) return status;
  if (response.jobs().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no job is named \"", display_name,
                                     "\" (JOB is an id, jobs/ID or a display name)"));
  }
  if (response.jobs_size() > 1) {
    // Every id that carries the name, for the message.
    std::vector<std::string> ids;
    std::string token;
    do {
      v1::ListJobsRequest page_request = request;
      page_request.set_page_size(100);
      page_request.set_page_token(token);
      v1::ListJobsResponse page;
      status = CallUnary(
          [&](grpc::ClientContext* c) { return stub_->ListJobs(c, page_request, &page); },
          /*retry=*/true);
      if (!status.ok()) return status;
      for (const v1::Job& j : page.jobs()) ids.emplace_back(ShortJobId(j.name()));
      token = page.next_page_token();
    } while (!token.empty() && ids.size() < 20);
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("the name \"", display_name, "\" is used by jobs ",
                     absl::StrJoin(ids, ", "), token.empty() ? "" : ", ...",
                     ": give the job's id"));
  }
  *job = response.jobs(0).name();
  return grpc::Status::OK;
}

grpc::Status Client::ResolveInitFrom(std::string* init_from) {
  std::string job_text = *init_from;
  std::string kind;
  if (const size_t colon = job_text.rfind(':'); colon != std::string::npos) {
    const std::string tail = job_text.substr(colon + 1);
    if (tail == "best" || tail == "last") {
      kind = tail;
      job_text.resize(colon);
    }
  }
  std::string job;
  if (absl::StatusOr<std::string> name = JobNameFromUserText(job_text); name.ok()) {
    job = *name;
  } else {
    grpc::Status found = ResolveDisplayName(job_text, &job);
    if (!found.ok()) return found;
  }
  *init_from = kind.empty() ? job : absl::StrCat(job, ":", kind);
  return grpc::Status::OK;
}

ExitCode Client::Delete() {
  v1::DeleteJobRequest request;
  request.set_name(options_.job);
  v1::DeleteJobResponse response;
  // Not retried: a lost answer of a first attempt would turn a success into NOT_FOUND.
  const grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->DeleteJob(c, request, &response); },
      /*retry=*/false);
  if (!status.ok()) return Fail(status);
  if (options_.output == OutputFormat::kJson) {
    out_ << nlohmann::json{{"name", response.name()},
                           {"freed_bytes", response.freed_bytes()}}
                .dump()
         << "\n";
  } else {
    out_ << "deleted " << response.name() << " (" << response.freed_bytes()
         << " bytes of files freed)\n";
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::Resume() {
  v1::ResumeJobRequest request;
  request.set_name(options_.job);
  v1::Job job;
  const grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->ResumeJob(c, request, &job); },
      /*retry=*/false);
  if (!status.ok()) return Fail(status);
  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(job) << "\n";
  } else {
    out_ << "resumed " << job.name() << " (" << StateName(job.state()) << ", "
         << job.last_epoch() << " of " << job.epochs() << " epochs finished)\n";
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::Metrics() {
  // The epochs so far: the stream up to the job's latest event.
  v1::Job current;
  const grpc::Status status = FetchJob(options_.job, &current);
  if (!status.ok()) return Fail(status);
  std::vector<v1::EpochMetrics> epochs;
  if (current.last_sequence() > 0) {
    client::FollowPolicy policy;
    policy.max_failed_attempts = 1;
    client::JobStream stream(stub_.get(), options_.job, /*from_sequence=*/1, policy);
    while (std::optional<StreamItem> item = stream.Next(absl::InfiniteDuration())) {
      if (item->kind == StreamItem::Kind::kError) return Fail(item->status);
      if (item->kind != StreamItem::Kind::kEvent) continue;
      if (item->event.has_epoch_metrics()) epochs.push_back(item->event.epoch_metrics());
      if (item->event.sequence() >= current.last_sequence()) break;
    }
  }
  if (options_.metrics_format == MetricsFormat::kJsonl) {
    for (const v1::EpochMetrics& m : epochs) {
      nlohmann::json row = {{"job", options_.job}};
      for (auto& [name, value] : EpochFields(m)) row[name] = value;
      row["n_class"] = m.n_class();
      row["confusion"] = std::vector<int64_t>(m.confusion().begin(), m.confusion().end());
      nlohmann::json layers = nlohmann::json::array();
      for (const v1::LayerGradientStats& l : m.layers()) {
        nlohmann::json layer = {{"name", l.name()}, {"index", l.index()}};
        for (auto& [name, value] : LayerFields(l)) layer[name] = value;
        layers.push_back(std::move(layer));
      }
      row["layers"] = std::move(layers);
      out_ << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    out_ << std::flush;
    return ExitCode::kOk;
  }
  // CSV: the layers of the first epoch name the per-layer columns ("conv_1.grad_norm").
  std::vector<std::string> header = {"job"};
  for (auto& field : EpochFields(v1::EpochMetrics())) header.push_back(field.first);
  const int layers = epochs.empty() ? 0 : epochs[0].layers_size();
  for (int i = 0; i < layers; ++i) {
    const v1::LayerGradientStats& l = epochs[0].layers(i);
    for (auto& field : LayerFields(l)) {
      header.push_back(Cell(absl::StrCat(l.name(), ".", field.first)));
    }
  }
  out_ << absl::StrJoin(header, ",") << "\n";
  for (const v1::EpochMetrics& m : epochs) {
    std::vector<std::string> row = {Cell(options_.job)};
    for (auto& field : EpochFields(m)) row.push_back(Cell(field.second));
    for (int i = 0; i < layers; ++i) {
      if (i < m.layers_size()) {
        for (auto& field : LayerFields(m.layers(i))) row.push_back(Cell(field.second));
      } else {
        row.insert(row.end(), LayerFields(v1::LayerGradientStats()).size(), "");
      }
    }
    out_ << absl::StrJoin(row, ",") << "\n";
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

}  // namespace edbp::cli

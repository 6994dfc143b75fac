#include "worker/worker_reporter.h"

#include <cstdio>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/job_name.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace edbp::worker {
namespace {

constexpr int kTries = 3;
constexpr std::chrono::milliseconds kFirstBackoff(100);  // doubled after each try

const char* KindName(const v1::Event& event) {
  switch (event.kind_case()) {
    case v1::Event::kStateChange:
      return "state change";
    case v1::Event::kProgress:
      return "progress";
    case v1::Event::kEpochMetrics:
      return "epoch metrics";
    case v1::Event::kLog:
      return "log line";
    case v1::Event::kCheckpointSaved:
      return "checkpoint";
    case v1::Event::KIND_NOT_SET:
      break;
  }
  return "empty";
}

}  // namespace

WorkerReporter::WorkerReporter(const std::string& address, std::string job_id,
                               std::chrono::milliseconds deadline)
    : address_(address),
      job_id_(std::move(job_id)),
      deadline_(deadline),
      stub_(v1::WorkerService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

void WorkerReporter::OnProgress(const train::ProgressRecord& r) {
  v1::Event event;
  *event.mutable_progress() = ToProto(r);
  Send(std::move(event));
}

void WorkerReporter::OnEpoch(const train::EpochMetrics& m) {
  v1::Event event;
  *event.mutable_epoch_metrics() = ToProto(m);
  Send(std::move(event));
}

void WorkerReporter::OnCheckpoint(const train::CheckpointRecord& r) {
  v1::Event event;
  *event.mutable_checkpoint_saved() = ToProto(r);
  Send(std::move(event));
}

void WorkerReporter::Log(v1::LogLine::Level level, const std::string& text) {
  v1::Event event;
  event.mutable_log()->set_level(level);
  event.mutable_log()->set_text(text);
  Send(std::move(event));
}

void WorkerReporter::Send(v1::Event event) {
  v1::ReportRequest request;
  request.set_job_id(job_id_);
  event.set_job(JobName(job_id_));
  *request.mutable_event() = std::move(event);
  grpc::Status status;
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (int attempt = 1; attempt <= kTries; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline_);
    v1::ReportResponse response;
    status = stub_->Report(&context, request, &response);
    if (status.ok()) return;
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt == kTries) break;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
  std::fprintf(
      stderr, "edbp-train: %s event dropped: report to %s failed (%s: %s)\n",
      KindName(request.event()), address_.c_str(),
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))
          .c_str(),
      status.error_message().c_str());
}

}  // namespace edbp::worker

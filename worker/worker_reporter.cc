#include "worker/worker_reporter.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/job_name.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace edbp::worker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kTries = 3;
constexpr std::chrono::milliseconds kFirstBackoff(100);  // doubled after each try
// Delivery from the spool: one try with this deadline, at most once per backoff.
constexpr std::chrono::milliseconds kSpoolDeadline(1000);
constexpr std::chrono::milliseconds kSpoolFirstBackoff(1000);
constexpr std::chrono::milliseconds kSpoolMaxBackoff(30000);

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

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), ": ",
      status.error_message());
}

// The refusals that say this process is not (or no longer) the job's running attempt.
bool IsFence(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::NOT_FOUND ||
         status.error_code() == grpc::StatusCode::ABORTED;
}

// The run's token (edbp-server's job_token.h), "" when the server gave none.
std::string TokenFromEnvironment() {
  const char* token = std::getenv("EDBP_JOB_TOKEN");
  return token != nullptr ? token : "";
}

// Plaintext for a Unix socket or a TCP address without a CA; TLS verified with the CA
// in $EDBP_WORKER_CA for a TCP address.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  const char* ca_path = std::getenv("EDBP_WORKER_CA");
  if (absl::StartsWith(address, "unix:") || ca_path == nullptr || *ca_path == '\0') {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  std::ifstream in(ca_path, std::ios::binary);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in || pem.str().empty()) {
    std::fprintf(stderr,
                 "edbp-train: cannot read $EDBP_WORKER_CA %s: reports to %s will fail\n",
                 ca_path, address.c_str());
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pem.str();
  return grpc::CreateChannel(address, grpc::SslCredentials(ssl));
}

}  // namespace

WorkerReporter::WorkerReporter(const std::string& address, std::string job_id,
                               int64_t attempt, std::chrono::milliseconds deadline)
    : address_(address),
      job_id_(std::move(job_id)),
      attempt_(attempt),
      deadline_(deadline),
      stub_(v1::WorkerService::NewStub(MakeChannel(address))),
      token_(TokenFromEnvironment()) {}

WorkerReporter::~WorkerReporter() = default;

void WorkerReporter::OnProgress(const train::ProgressRecord& r) {
  v1::Event event;
  *event.mutable_progress() = ToProto(r);
  event.set_record(r.record);
  Send(std::move(event));
}

void WorkerReporter::OnEpoch(const train::EpochMetrics& m) {
  v1::Event event;
  *event.mutable_epoch_metrics() = ToProto(m);
  event.set_record(m.record);
  Send(std::move(event));
}

void WorkerReporter::OnCheckpoint(const train::CheckpointRecord& r) {
  v1::Event event;
  *event.mutable_checkpoint_saved() = ToProto(r);
  event.set_record(r.record);
  Send(std::move(event));
}

void WorkerReporter::Log(v1::LogLine::Level level, const std::string& text) {
  v1::Event event;
  event.mutable_log()->set_level(level);
  event.mutable_log()->set_text(text);
  Send(std::move(event));
}

void WorkerReporter::set_on_fenced(std::function<void()> on_fenced) {
  std::lock_guard<std::mutex> lock(mu_);
  on_fenced_ = std::move(on_fenced);
}

grpc::Status WorkerReporter::Deliver(const v1::ReportRequest& request, int tries,
                                     std::chrono::milliseconds deadline) {
  grpc::Status status;
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (int attempt = 1; attempt <= tries; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!token_.empty()) context.AddMetadata("x-edbp-job-token", token_);
    v1::ReportResponse response;
    status = stub_->Report(&context, request, &response);
    if (status.ok()) return status;
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt == tries) break;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
  return status;
}

void WorkerReporter::Send(v1::Event event) {
  v1::ReportRequest request;
  request.set_job_id(job_id_);
  request.set_attempt(attempt_);
  event.set_job(JobName(job_id_));
  *request.mutable_event() = std::move(event);
  std::lock_guard<std::mutex> lock(mu_);
  // Behind a non-empty spool: in order, after it.
  if (spool_.has_value() && !spool_->empty()) {
    if (fenced_ || Clock::now() < next_delivery_ || !DeliverSpoolLocked()) {
      KeepLocked(request, grpc::Status(grpc::StatusCode::UNAVAILABLE, "spooled"));
      return;
    }
  }
  const grpc::Status status = Deliver(request, kTries, deadline_);
  if (status.ok()) return;
  OnRefusedLocked(status);
  KeepLocked(request, status);
}

void WorkerReporter::OnRefusedLocked(const grpc::Status& status) {
  if (!IsFence(status) || fenced_) return;
  fenced_ = true;
  std::fprintf(stderr,
               "edbp-train: the server refused attempt %lld of job %s (%s); reports go "
               "to the spool and this run stops at the next batch\n",
               static_cast<long long>(attempt_), job_id_.c_str(),
               Describe(status).c_str());
  if (on_fenced_) on_fenced_();
}

void WorkerReporter::KeepLocked(const v1::ReportRequest& request,
                                const grpc::Status& status) {
  const bool keep =
      spool_.has_value() && status.error_code() != grpc::StatusCode::INVALID_ARGUMENT;
  if (keep) {
    const bool was_empty = spool_->empty();
    const absl::Status appended = spool_->Append(request);
    if (appended.ok()) {
      if (was_empty) {
        backoff_ = kSpoolFirstBackoff;
        next_delivery_ = Clock::now() + backoff_;
      }
      return;
    }
    std::fprintf(stderr, "edbp-train: %s\n", std::string(appended.message()).c_str());
  }
  std::fprintf(stderr, "edbp-train: %s event dropped: report to %s failed (%s)\n",
               KindName(request.event()), address_.c_str(), Describe(status).c_str());
}

bool WorkerReporter::DeliverSpoolLocked() {
  grpc::Status refused = grpc::Status::OK;
  const absl::Status delivered =
      spool_->DeliverInOrder([&](v1::ReportRequest& request) -> absl::Status {
        if (request.job_id() != job_id_) return absl::OkStatus();  // not this job's
        // Whatever process spooled it, this one carries it, under its own attempt.
        request.set_attempt(attempt_);
        const grpc::Status status = Deliver(request, 1, kSpoolDeadline);
        if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
          std::fprintf(stderr, "edbp-train: spooled %s event dropped: %s\n",
                       KindName(request.event()), Describe(status).c_str());
          return absl::OkStatus();
        }
        refused = status;
        return status.ok() ? absl::OkStatus() : absl::UnavailableError("refused");
      });
  if (delivered.ok()) return true;
  if (!refused.ok()) {
    OnRefusedLocked(refused);
    backoff_ = std::min(backoff_ * 2, kSpoolMaxBackoff);
    next_delivery_ = Clock::now() + backoff_;
  } else {
    std::fprintf(stderr, "edbp-train: %s\n", std::string(delivered.message()).c_str());
  }
  return false;
}

absl::Status WorkerReporter::AttachSpool(const std::filesystem::path& path) {
  absl::StatusOr<ReportSpool> spool = ReportSpool::Open(path);
  if (!spool.ok()) return spool.status();
  const std::string note = spool->repair_note();
  {
    std::lock_guard<std::mutex> lock(mu_);
    spool_.emplace(*std::move(spool));
    if (!spool_->empty()) DeliverSpoolLocked();
  }
  if (!note.empty()) {
    std::fprintf(stderr, "edbp-train: %s repaired: %s\n", path.c_str(), note.c_str());
    Log(v1::LogLine::WARNING, absl::StrCat(path.string(), " repaired: ", note));
  }
  return absl::OkStatus();
}

uint64_t WorkerReporter::Flush(std::chrono::milliseconds budget) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!spool_.has_value()) return 0;
  const Clock::time_point give_up = Clock::now() + budget;
  while (!fenced_ && !spool_->empty() && Clock::now() < give_up) {
    if (DeliverSpoolLocked()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return spool_->pending_bytes();
}

}  // namespace edbp::worker

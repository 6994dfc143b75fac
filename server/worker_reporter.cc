#include "server/worker_reporter.h"

#include <cstdio>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace edbp::server {
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

v1::EpochMetrics ToProto(const train::EpochMetrics& m) {
  v1::EpochMetrics p;
  p.set_epoch(m.epoch);
  p.set_epochs(m.epochs);
  p.set_train_loss(m.train_loss);
  p.set_train_accuracy(m.train_accuracy);
  p.set_test_loss(m.test_loss);
  p.set_test_accuracy(m.test_accuracy);
  p.set_learning_rate(m.lr);
  p.set_seconds(m.seconds);
  p.set_train_samples_per_second(m.train_samples_per_second);
  p.set_test_samples_per_second(m.test_samples_per_second);
  p.set_train_samples(m.train_samples);
  p.set_test_samples(m.test_samples);
  p.set_n_class(m.n_class);
  p.mutable_confusion()->Add(m.confusion.begin(), m.confusion.end());
  for (const train::LayerStats& l : m.layers) {
    v1::LayerGradientStats* s = p.add_layers();
    s->set_name(l.name);
    s->set_index(l.index);
    s->set_grad_norm(l.grad_norm);
    s->set_grad_mean(l.grad_mean);
    s->set_grad_max_abs(l.grad_max_abs);
    s->set_grad_sum_in(l.grad_sum_in);
    s->set_grad_sum_out(l.grad_sum_out);
    s->set_firing_rate(l.firing_rate);
    s->set_silent_fraction(l.silent_fraction);
    s->set_weight_norm(l.weight_norm);
    s->set_update_ratio(l.update_ratio);
  }
  p.set_best(m.best);
  return p;
}

v1::Progress ToProto(const train::ProgressRecord& r) {
  v1::Progress p;
  p.set_epoch(r.epoch);
  p.set_batch(r.batch);
  p.set_batches(r.batches);
  p.set_running_loss(r.running_loss);
  p.set_running_accuracy(r.running_accuracy);
  p.set_samples_per_second(r.samples_per_second);
  p.set_eta_seconds(r.eta_seconds);
  return p;
}

v1::CheckpointSaved ToProto(const train::CheckpointRecord& r) {
  v1::CheckpointSaved p;
  p.set_epoch(r.epoch);
  p.set_kind(r.kind);
  return p;
}

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
  event.set_job(absl::StrCat("jobs/", job_id_));
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

}  // namespace edbp::server

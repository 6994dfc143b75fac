#include "client/cli/client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/text_check.h"
#include "client/cli/format.h"
#include "core/train/nir_export.h"
#include "grpcpp/generic/generic_stub.h"
#include "nlohmann/json.hpp"

namespace edbp::cli {
namespace {

constexpr int kUnaryAttempts = 3;   // with retry: the first call and 2 retries
constexpr int kListPageSize = 500;  // the server allows at most 1000

// A temporary file next to `target` that becomes `target` on Commit() and is removed
// otherwise.
class TempFile {
 public:
  explicit TempFile(std::string target)
      : target_(std::move(target)), path_(absl::StrCat(target_, ".tmp-", getpid())) {}
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_ && fd_ != -1) unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Errors are "what: strerror" one-liners.
  absl::Status Open() {
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Error("cannot create");
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view data) {
    while (!data.empty()) {
      const ssize_t n = write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error("cannot write");
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status Commit() {
    if (fsync(fd_) != 0) return Error("cannot write");
    const int fd = fd_;
    fd_ = -2;  // closed, still to be removed on failure
    if (close(fd) != 0) return Error("cannot write");
    if (rename(path_.c_str(), target_.c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot rename ", path_, " to ", target_, ": ", strerror(errno)));
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InternalError(absl::StrCat(what, " ", path_, ": ", strerror(errno)));
  }

  const std::string target_;
  const std::string path_;
  int fd_ = -1;  // -1: never opened; -2: closed
  bool committed_ = false;
};

}  // namespace

Client::Client(Options options, std::shared_ptr<grpc::Channel> channel, std::ostream& out,
               std::ostream& err, bool interactive)
    : options_(std::move(options)),
      out_(out),
      err_(err),
      interactive_(interactive),
      channel_(std::move(channel)),
      stub_(v1::TrainingService::NewStub(channel_)) {}

ExitCode Client::Run() {
  if (options_.job.empty() && !options_.job_display_name.empty()) {
    const grpc::Status found =
        ResolveDisplayName(options_.job_display_name, &options_.job);
    if (!found.ok()) return Fail(found);
  }
  switch (options_.command) {
    case Command::kSubmit:
      return Submit();
    case Command::kList:
      return List();
    case Command::kGet:
      return options_.sweep.empty() ? Get() : GetSweep();
    case Command::kCancel:
      return options_.sweep.empty() ? Cancel() : CancelSweep();
    case Command::kSweep:
      return CreateSweep();
    case Command::kSweeps:
      return ListSweeps();
    case Command::kWatch:
      return Watch(options_.job, options_.from_start);
    case Command::kLogs:
      return Logs();
    case Command::kDownload:
      return Download();
    case Command::kHealth:
      return Health();
    case Command::kDelete:
      return Delete();
    case Command::kResume:
      return Resume();
    case Command::kMetrics:
      return Metrics();
    case Command::kHelp:
      break;
  }
  out_ << HelpText();
  return ExitCode::kOk;
}

grpc::Status Client::CallUnary(
    const std::function<grpc::Status(grpc::ClientContext*)>& call, bool retry) {
  const absl::Time give_up = absl::Now() + 2 * options_.timeout;
  grpc::Status first_unavailable;
  for (int attempt = 0; attempt < (retry ? kUnaryAttempts : 1); ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(200 * attempt));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
    grpc::Status status = call(&context);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
    // The first failure names the cause ("Connection refused"); later ones may only
    // say that gRPC gave up on a connection attempt.
    if (attempt == 0) first_unavailable = std::move(status);
    if (absl::Now() > give_up) break;
  }
  return first_unavailable;
}

void Client::PrintError(const std::string& message) {
  bool printed = false;
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    err_ << "edbp-client: " << line << "\n";
    printed = true;
  }
  if (!printed) err_ << "edbp-client: failed without a message\n";
  err_ << std::flush;
}

ExitCode Client::Unreachable(const std::string& reason) {
  err_ << "edbp-client: cannot reach edbp-server at " << options_.server << ": "
       << absl::StrReplaceAll(reason, {{"\r", ""}, {"\n", "; "}}) << "\n"
       << std::flush;
  return ExitCode::kUnreachable;
}

ExitCode Client::Fail(const grpc::Status& status) {
  const std::string code_name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return ExitCode::kOk;
    case grpc::StatusCode::UNAVAILABLE:
      return Unreachable(status.error_message().empty() ? code_name
                                                        : status.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
        return Unreachable(absl::StrCat("no connection within ",
                                        absl::FormatDuration(options_.timeout)));
      }
      PrintError(absl::StrCat("edbp-server did not answer within ",
                              absl::FormatDuration(options_.timeout)));
      return ExitCode::kFailed;
    case grpc::StatusCode::NOT_FOUND:
      PrintError(status.error_message().empty() ? code_name : status.error_message());
      return ExitCode::kNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
      PrintError(status.error_message().empty() ? code_name : status.error_message());
      return ExitCode::kInvalidArgument;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      PrintError(absl::StrCat(code_name, ": ", status.error_message(),
                              " (give --token-file FILE or set $EDBP_TOKEN)"));
      return ExitCode::kUnauthenticated;
    default:
      PrintError(status.error_message().empty() ? code_name : status.error_message());
      return ExitCode::kFailed;
  }
}

ExitCode Client::Submit() {
  if (std::filesystem::is_directory(options_.config_path)) {
    err_ << "edbp-client: cannot read " << options_.config_path
         << ": it is a directory\n";
    return ExitCode::kUsage;
  }
  std::ifstream in(options_.config_path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    err_ << "edbp-client: cannot read " << options_.config_path << ": " << strerror(errno)
         << "\n";
    return ExitCode::kUsage;
  }
  // Text gRPC could not carry (a proto string must be UTF-8: the server would see only
  // a request it cannot parse) is refused here, where the file's name can be said.
  if (absl::Status readable = CheckText(options_.config_path, text.str(),
                                        text.str().size(), /*multi_line=*/true);
      !readable.ok()) {
    PrintError(std::string(readable.message()));
    return ExitCode::kInvalidArgument;
  }
  v1::CreateJobRequest request;
  request.set_config_yaml(text.str());
  request.set_display_name(options_.display_name);
  request.set_priority(options_.priority);
  request.set_workers(options_.workers);
  request.set_nodes(options_.nodes);
  if (options_.gpus_per_worker >= 0)
    request.set_gpus_per_worker(options_.gpus_per_worker);
  request.set_validate_only(options_.validate_only);
  request.set_request_id(options_.request_id);
  if (options_.has_seed) request.set_seed(options_.seed);
  if (options_.progress_every >= 0) request.set_progress_every(options_.progress_every);
  if (!options_.init_from.empty()) {
    std::string init_from = options_.init_from;
    const grpc::Status resolved = ResolveInitFrom(&init_from);
    if (!resolved.ok()) return Fail(resolved);
    request.set_init_from(init_from);
  }
  v1::Job job;
  // The request id makes a retry return the job the first attempt created.
  const grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->CreateJob(c, request, &job); },
      /*retry=*/true);
  if (!status.ok()) return Fail(status);

  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(job) << "\n";
  } else if (options_.validate_only) {
    out_ << options_.config_path << ": the config is valid\n";
  } else {
    out_ << "submitted " << job.name() << " \"" << job.display_name() << "\" ("
         << StateName(job.state()) << ", priority " << job.priority() << ")\n";
  }
  out_ << std::flush;
  if (options_.follow && !options_.validate_only) {
    return Watch(job.name(), /*from_start=*/true);
  }
  return ExitCode::kOk;
}

ExitCode Client::List() {
  v1::ListJobsResponse all;
  std::set<std::string> tokens_seen;
  std::string token;
  do {
    v1::ListJobsRequest request;
    request.set_page_size(kListPageSize);
    request.set_page_token(token);
    request.set_state(options_.state_filter);
    v1::ListJobsResponse page;
    const grpc::Status status = CallUnary(
        [&](grpc::ClientContext* c) { return stub_->ListJobs(c, request, &page); },
        /*retry=*/true);
    if (!status.ok()) return Fail(status);
    for (v1::Job& job : *page.mutable_jobs()) *all.add_jobs() = std::move(job);
    token = page.next_page_token();
    if (!token.empty() && !tokens_seen.insert(token).second) {
      PrintError(absl::StrCat("edbp-server repeated the page token '", token, "'"));
      return ExitCode::kFailed;
    }
  } while (!token.empty());

  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(all) << "\n";
  } else if (all.jobs().empty()) {
    out_ << "no jobs\n";
  } else {
    out_ << FormatJobTable({all.jobs().begin(), all.jobs().end()});
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

grpc::Status Client::FetchJob(const std::string& name, v1::Job* job) {
  v1::GetJobRequest request;
  request.set_name(name);
  return CallUnary([&](grpc::ClientContext* c) { return stub_->GetJob(c, request, job); },
                   /*retry=*/true);
}

ExitCode Client::Get() {
  v1::Job job;
  const grpc::Status status = FetchJob(options_.job, &job);
  if (!status.ok()) return Fail(status);
  out_ << (options_.output == OutputFormat::kJson ? ToJson(job) + "\n"
                                                  : FormatJobDetails(job))
       << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::Cancel() {
  v1::CancelJobRequest request;
  request.set_name(options_.job);
  v1::Job job;
  // Not retried: a lost answer of a first attempt would turn a success into
  // FAILED_PRECONDITION.
  const grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->CancelJob(c, request, &job); },
      /*retry=*/false);
  if (!status.ok()) return Fail(status);
  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(job) << "\n";
  } else if (job.state() == v1::CANCELLED) {
    out_ << job.name() << " CANCELLED\n";
  } else {
    out_ << job.name() << " is stopping (" << StateName(job.state())
         << "); it ends at the next batch boundary\n";
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::Download() {
  // --format nir: the checkpoint goes to a temporary file next to FILE first, and FILE
  // is the NIR export of it (core/train/nir_export.h), converted here.
  const std::string checkpoint_file =
      options_.nir ? options_.output_file + ".checkpoint" : options_.output_file;
  TempFile file(checkpoint_file);
  if (absl::Status s = file.Open(); !s.ok()) {
    PrintError(std::string(s.message()));
    return ExitCode::kFailed;
  }
  v1::DownloadCheckpointRequest request;
  request.set_name(options_.job);
  request.set_best(options_.best);
  grpc::ClientContext context;  // no deadline: checkpoints can be large
  std::unique_ptr<grpc::ClientReader<v1::CheckpointChunk>> reader =
      stub_->DownloadCheckpoint(&context, request);
  v1::CheckpointChunk chunk;
  int64_t total = -1;  // unknown until the first chunk
  int64_t received = 0;
  absl::Status write_status;
  while (reader->Read(&chunk)) {
    if (total < 0) total = chunk.total_bytes();
    received += static_cast<int64_t>(chunk.data().size());
    if (write_status.ok()) {
      write_status = file.Write(chunk.data());
      if (!write_status.ok()) context.TryCancel();
    }
  }
  const grpc::Status status = reader->Finish();
  if (!write_status.ok()) {
    PrintError(std::string(write_status.message()));
    return ExitCode::kFailed;
  }
  if (!status.ok()) return Fail(status);
  if (total > 0 && received != total) {
    PrintError(absl::StrCat("the checkpoint of ", options_.job, " is incomplete: got ",
                            received, " of ", total, " bytes"));
    return ExitCode::kFailed;
  }
  if (absl::Status s = file.Commit(); !s.ok()) {
    PrintError(std::string(s.message()));
    return ExitCode::kFailed;
  }
  if (options_.nir) {
    const absl::Status s =
        train::ExportNirFromCheckpoint(checkpoint_file, options_.output_file);
    std::error_code ec;
    std::filesystem::remove(checkpoint_file, ec);
    if (!s.ok()) {
      PrintError(absl::StrCat("the checkpoint of ", options_.job,
                              " could not be converted to NIR: ", s.message()));
      return ExitCode::kFailed;
    }
  }
  const char* kind = options_.best ? "best" : "last";
  if (options_.output == OutputFormat::kJson) {
    const nlohmann::json doc = {{"job", options_.job},
                                {"checkpoint", kind},
                                {"format", options_.nir ? "nir" : "safetensors"},
                                {"file", options_.output_file},
                                {"bytes", received}};
    out_ << doc.dump() << "\n";
  } else {
    out_ << "saved the " << kind << " checkpoint of " << options_.job
         << (options_.nir ? " as NIR" : "") << " in " << options_.output_file << " ("
         << received << " bytes" << (options_.nir ? " downloaded" : "") << ")\n";
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::Health() {
  // grpc.health.v1.HealthCheckRequest{service = ""} is the empty message; the response
  // is HealthCheckResponse{status = 1 (field 1, varint)}: SERVING encodes as 08 01.
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  const grpc::Slice empty;
  const grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return Fail(status);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  // Field 1 absent means UNKNOWN (0).
  const int code = bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
  static constexpr const char* kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                           "SERVICE_UNKNOWN"};
  const char* name = code >= 0 && code <= 3 ? kNames[code] : "UNKNOWN";
  if (options_.output == OutputFormat::kJson) {
    out_ << nlohmann::json{{"status", name}}.dump() << "\n";
  } else {
    out_ << name << "\n";
  }
  return code == 1 ? ExitCode::kOk : ExitCode::kFailed;
}

}  // namespace edbp::cli

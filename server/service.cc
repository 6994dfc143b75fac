#include "server/service.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "base/job_name.h"
#include "base/text_check.h"
#include "core/config/config.h"
#include "core/config/memory_estimate.h"
#include "core/data/dataset.h"
#include "core/train/checkpoint.h"
#include "core/train/checkpoint_names.h"
#include "server/auth.h"
#include "server/data_dir.h"
#include "server/job_token.h"
#include "server/request_limits.h"
#include "server/watch_job_reactor.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;
constexpr int kDefaultPageSize = 50;
// Network.data_path and cache_path: PATH_MAX, as the kernel takes them.
constexpr size_t kMaxPathBytes = 4096;
constexpr int kMaxPageSize = 1000;
constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kMaxCachedTokens = 4096;

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<v1::Job> TrainingServiceImpl::DraftJob(const v1::CreateJobRequest& req,
                                                      std::string* init_weights) {
  // Sizes, UTF-8 and control characters first: nothing else reads an unchecked string.
  EDBP_RETURN_IF_ERROR(CheckCreateJobRequest(req));
  // The trainer's own config code: every error with its field path.
  EDBP_ASSIGN_OR_RETURN(const config::Config config,
                        config::ParseConfig(req.config_yaml(), "config.yaml"));
  // YAML escapes ("\x1b") may put control characters into a path: refused before any
  // message quotes it.
  EDBP_RETURN_IF_ERROR(
      CheckText("Network.data_path", config.network.data_path, kMaxPathBytes, false));
  EDBP_RETURN_IF_ERROR(
      CheckText("Network.cache_path", config.network.cache_path, kMaxPathBytes, false));
  EDBP_RETURN_IF_ERROR(CheckDataPath(config.network.data_path, options_.data_roots));
  // The frame cache is written there: the same roots (it escaped them: issue 17).
  EDBP_RETURN_IF_ERROR(CheckConfigPath("Network.cache_path", config.network.cache_path,
                                       options_.data_roots));
  // The data set's files, where the job will look for them: a job that would fail on
  // its first read is refused now. Local jobs only: a Slurm job reads on a compute node,
  // whose mounts this machine need not share.
  if (options_.capacity.executor == ExecutorKind::kLocal) {
    EDBP_RETURN_IF_ERROR(data::CheckDataFiles(config.network));
  }
  if (options_.max_job_bytes > 0) {
    const config::MemoryEstimate need = config::EstimateTrainingMemory(config);
    if (need.total_bytes() > options_.max_job_bytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Network: the job's tensors need %s, more than this server allows per job "
          "(%.3g GiB, edbp-server --max-job-memory-gib)",
          need.ToString(config), options_.max_job_bytes / (1024.0 * 1024.0 * 1024.0)));
    }
  }
  EDBP_ASSIGN_OR_RETURN(
      const auto resources,
      ResolveResources(req, config.network.batch_size, options_.capacity));
  if (config.network.backend == config::BackendChoice::kCuda && !has_gpu_slots_ &&
      options_.capacity.executor == ExecutorKind::kLocal) {
    return absl::InvalidArgumentError(
        "Network.backend: cuda, but this server has no GPU slots; use auto or cpu");
  }
  // The request's seed, else the config's, else 0.
  uint64_t seed = 0;
  if (req.has_seed()) {
    seed = req.seed();
  } else if (config.network.seed >= 0) {
    seed = static_cast<uint64_t>(config.network.seed);
  }
  // Likewise the batches between progress records (config.h's default, 20).
  int64_t progress_every = config::kDefaultProgressEvery;
  if (req.has_progress_every()) {
    if (req.progress_every() < 0 || req.progress_every() > config::kMaxProgressEvery) {
      return absl::InvalidArgumentError(
          absl::StrCat("progress_every: expected 0 (no progress records) to ",
                       config::kMaxProgressEvery,
                       " batches between progress records, got ", req.progress_every()));
    }
    progress_every = req.progress_every();
  } else if (config.network.progress_every >= 0) {
    progress_every = config.network.progress_every;
  }
  std::pair<std::string, std::string> init;  // (canonical name, checkpoint path)
  if (!req.init_from().empty()) {
    EDBP_ASSIGN_OR_RETURN(init, ResolveInitFrom(req.init_from()));
    // The checkpoint must fit this config's network, as the job's start would find:
    // refused now, naming the tensor, instead of a job that fails when it starts. The
    // check builds the network's weights in this process and reads the whole file:
    // beyond kMaxInitCheckBytes of either (a giant network or file), the job's start
    // checks alone.
    constexpr double kMaxInitCheckBytes = 1024.0 * 1024.0 * 1024.0;
    std::error_code size_error;
    const double file_bytes =
        static_cast<double>(std::filesystem::file_size(init.second, size_error));
    const double weight_bytes =
        config::EstimateTrainingMemory(config).parameter_bytes / 4;
    absl::Status fits;
    if (size_error ||
        (file_bytes <= kMaxInitCheckBytes && weight_bytes <= kMaxInitCheckBytes)) {
      fits = train::CheckWeightsFit(init.second, config);
    }
    if (!fits.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("init_from: ", init.first,
                       " cannot initialise this config's network: ", fits.message()));
    }
  }
  if (init_weights != nullptr) *init_weights = init.second;
  v1::Job draft;
  draft.set_seed(seed);
  draft.set_progress_every(progress_every);
  draft.set_init_from(init.first);
  draft.set_display_name(req.display_name());
  draft.set_config_yaml(req.config_yaml());
  draft.set_priority(req.priority());
  draft.set_epochs(config.network.epochs);
  draft.set_workers(resources.workers);
  draft.set_gpus_per_worker(resources.gpus_per_worker);
  draft.set_nodes(resources.nodes);
  draft.set_best_test_accuracy(-1);
  return draft;
}

grpc::Status TrainingServiceImpl::CreateJob(grpc::ServerContext*,
                                            const v1::CreateJobRequest* req,
                                            v1::Job* job) {
  std::string init_weights;
  absl::StatusOr<v1::Job> draft = DraftJob(*req, &init_weights);
  if (!draft.ok()) return ToGrpc(draft.status());
  if (req->validate_only()) {
    *job = *std::move(draft);
    return grpc::Status::OK;
  }
  auto created = scheduler_->Submit(*std::move(draft), req->request_id(), init_weights);
  if (!created.ok()) return ToGrpc(created.status());
  *job = created->first;
  return grpc::Status::OK;
}

absl::StatusOr<std::pair<std::string, std::string>> TrainingServiceImpl::ResolveInitFrom(
    const std::string& text) {
  absl::string_view job_text = text;
  absl::string_view kind = "last";
  if (const size_t colon = job_text.rfind(':'); colon != absl::string_view::npos) {
    kind = job_text.substr(colon + 1);
    job_text = job_text.substr(0, colon);
  }
  if (kind != "last" && kind != "best") {
    return absl::InvalidArgumentError(absl::StrCat(
        "init_from: expected jobs/ID, jobs/ID:best or jobs/ID:last, got \"", text, "\""));
  }
  auto name = JobNameFromUserText(job_text);
  if (!name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("init_from: ", name.status().message()));
  }
  EDBP_ASSIGN_OR_RETURN(const std::string id, JobIdFromName(*name));
  auto source = store_->GetJob(id);
  if (!source.ok()) {
    return absl::Status(source.status().code(),
                        absl::StrCat("init_from: ", source.status().message()));
  }
  const fs::path path =
      JobDirectory(data_dir_, id) /
      (kind == "best" ? train::kBestCheckpoint : train::kLastCheckpoint);
  if (!fs::is_regular_file(path)) {
    return absl::NotFoundError(
        absl::StrCat("init_from: job ", id, " has no ", kind, " checkpoint (yet)"));
  }
  return std::make_pair(absl::StrCat(*name, ":", kind), path.string());
}

grpc::Status TrainingServiceImpl::GetJob(grpc::ServerContext*,
                                         const v1::GetJobRequest* req, v1::Job* job) {
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  auto got = store_->GetJob(*id);
  if (!got.ok()) return ToGrpc(got.status());
  *job = *got;
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListJobs(grpc::ServerContext*,
                                           const v1::ListJobsRequest* req,
                                           v1::ListJobsResponse* resp) {
  const int size =
      req->page_size() <= 0 ? kDefaultPageSize : std::min(req->page_size(), kMaxPageSize);
  int64_t before = 0;
  if (!req->page_token().empty() && !absl::SimpleAtoi(req->page_token(), &before)) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("page_token: expected a token from a previous response, got \"",
                     req->page_token(), "\"")));
  }
  // One more than asked tells whether another page exists.
  if (absl::Status name = CheckListJobsRequest(*req); !name.ok()) return ToGrpc(name);
  auto jobs = store_->ListJobs(req->state(), before, size + 1, req->display_name());
  if (!jobs.ok()) return ToGrpc(jobs.status());
  for (int i = 0; i < static_cast<int>(jobs->size()) && i < size; ++i) {
    *resp->add_jobs() = (*jobs)[i];
  }
  if (static_cast<int>(jobs->size()) > size) {
    auto last = JobIdFromName(resp->jobs(size - 1).name());
    if (last.ok()) resp->set_next_page_token(*last);
  }
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::CancelJob(grpc::ServerContext*,
                                            const v1::CancelJobRequest* req,
                                            v1::Job* job) {
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  auto cancelled = scheduler_->Cancel(*id);
  if (!cancelled.ok()) return ToGrpc(cancelled.status());
  *job = *cancelled;
  return grpc::Status::OK;
}

void TrainingServiceImpl::Shutdown() {
  shutting_down_.store(true);
  hub_->WakeAll();
}

grpc::ServerWriteReactor<v1::Event>* TrainingServiceImpl::WatchJob(
    grpc::CallbackServerContext*, const v1::WatchJobRequest* req) {
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return new WatchJobReactor(ToGrpc(id.status()));
  auto job = store_->GetJob(*id);
  if (!job.ok()) return new WatchJobReactor(ToGrpc(job.status()));
  // A job whose end the store cannot write yet: an error now, not a stream that waits.
  if (absl::Status pending = scheduler_->EndPending(*id); !pending.ok()) {
    return new WatchJobReactor(ToGrpc(pending));
  }
  return new WatchJobReactor(hub_, options_.metrics, &shutting_down_, *id,
                             req->from_sequence());
}

grpc::Status TrainingServiceImpl::DownloadCheckpoint(
    grpc::ServerContext*, const v1::DownloadCheckpointRequest* req,
    grpc::ServerWriter<v1::CheckpointChunk>* writer) {
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  auto job = store_->GetJob(*id);
  if (!job.ok()) return ToGrpc(job.status());
  const fs::path path = JobDirectory(data_dir_, *id) /
                        (req->best() ? train::kBestCheckpoint : train::kLastCheckpoint);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ToGrpc(absl::NotFoundError(absl::StrCat(
        "job ", *id, " has no ", req->best() ? "best" : "last", " checkpoint yet")));
  }
  const int64_t total = static_cast<int64_t>(fs::file_size(path));
  std::vector<char> buf(kChunkBytes);
  bool first = true;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0 && !first) break;
    v1::CheckpointChunk chunk;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    if (first) chunk.set_total_bytes(total);
    first = false;
    if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
  }
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::CreateSweep(grpc::ServerContext*,
                                              const v1::CreateSweepRequest* req,
                                              v1::Sweep* sweep) {
  auto created = sweeps_.Create(*req);
  if (!created.ok()) return ToGrpc(created.status());
  *sweep = *std::move(created);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::GetSweep(grpc::ServerContext*,
                                           const v1::GetSweepRequest* req,
                                           v1::Sweep* sweep) {
  auto got = sweeps_.Get(req->name());
  if (!got.ok()) return ToGrpc(got.status());
  *sweep = *std::move(got);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ListSweeps(grpc::ServerContext*,
                                             const v1::ListSweepsRequest* req,
                                             v1::ListSweepsResponse* resp) {
  auto page = sweeps_.List(req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpc(page.status());
  for (v1::Sweep& sweep : page->first) *resp->add_sweeps() = std::move(sweep);
  resp->set_next_page_token(page->second);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::CancelSweep(grpc::ServerContext*,
                                              const v1::CancelSweepRequest* req,
                                              v1::Sweep* sweep) {
  auto cancelled = sweeps_.Cancel(req->name());
  if (!cancelled.ok()) return ToGrpc(cancelled.status());
  *sweep = *std::move(cancelled);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::DeleteJob(grpc::ServerContext*,
                                            const v1::DeleteJobRequest* req,
                                            v1::DeleteJobResponse* resp) {
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  auto deleted = scheduler_->Delete(*id);
  if (!deleted.ok()) return ToGrpc(deleted.status());
  resp->set_name(JobName(*id));
  resp->set_freed_bytes(deleted->freed_bytes);
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ResumeJob(grpc::ServerContext*,
                                            const v1::ResumeJobRequest* req,
                                            v1::Job* job) {
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  auto resumed = scheduler_->Resume(*id);
  if (!resumed.ok()) return ToGrpc(resumed.status());
  *job = *resumed;
  return grpc::Status::OK;
}

grpc::Status TrainingServiceImpl::ReadJobLog(grpc::ServerContext* ctx,
                                             const v1::ReadJobLogRequest* req,
                                             grpc::ServerWriter<v1::LogChunk>* writer) {
  constexpr size_t kLogChunkBytes = 64 << 10;
  constexpr auto kPoll = std::chrono::milliseconds(200);
  auto id = JobIdFromName(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  if (req->offset() < 0) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("offset: must not be negative, got ", req->offset())));
  }
  if (auto job = store_->GetJob(*id); !job.ok()) return ToGrpc(job.status());
  struct Follower {  // counts this stream while it follows
    std::atomic<int>* count = nullptr;
    ~Follower() {
      if (count != nullptr) count->fetch_sub(1);
    }
  } follower;
  if (req->follow()) {
    if (log_followers_.fetch_add(1) >= kMaxLogFollowers) {
      log_followers_.fetch_sub(1);
      return ToGrpc(absl::ResourceExhaustedError(absl::StrCat(
          "more than ", kMaxLogFollowers, " logs are followed at once; try later")));
    }
    follower.count = &log_followers_;
  }
  const fs::path path = JobDirectory(data_dir_, *id) / kJobLogFile;
  int64_t offset = req->offset();
  std::vector<char> buf(kLogChunkBytes);
  while (true) {
    // Whether the job had ended before this read: then the read gets everything.
    bool ended = true;
    if (req->follow()) {
      auto job = store_->GetJob(*id);
      if (!job.ok()) return ToGrpc(job.status());  // deleted meanwhile
      ended = IsTerminal(job->state());
    }
    std::ifstream in(path, std::ios::binary);
    if (in) in.seekg(offset);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const std::streamsize n = in.gcount();
      if (n <= 0) break;
      v1::LogChunk chunk;
      chunk.set_data(buf.data(), static_cast<size_t>(n));
      chunk.set_offset(offset);
      offset += n;
      if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
    }
    if (ended) return grpc::Status::OK;
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    if (shutting_down_.load()) {
      return ToGrpc(absl::UnavailableError("the server is shutting down"));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

absl::Status WorkerServiceImpl::CheckToken(grpc::ServerContext* ctx,
                                           const v1::ReportRequest& req) {
  if (store_ == nullptr) return absl::OkStatus();
  const auto& metadata = ctx->client_metadata();
  const auto found = metadata.find(kJobTokenMetadata);
  const bool unix_socket = absl::StartsWith(ctx->peer(), "unix:");
  if (found == metadata.end()) {
    if (unix_socket) return absl::OkStatus();
    return absl::UnauthenticatedError(absl::StrCat(
        "a report over TCP needs its job's token (metadata ", kJobTokenMetadata, ")"));
  }
  const absl::string_view token(found->second.data(), found->second.size());
  if (token.size() != 64 ||
      token.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return absl::UnauthenticatedError("malformed job token");
  }
  const std::string hash = Sha256(token);
  std::pair<std::string, int64_t> owner;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(token_mu_);
    if (auto it = token_cache_.find(hash); it != token_cache_.end()) {
      owner = it->second;
      cached = true;
    }
  }
  if (!cached) {
    auto found_owner = store_->FindJobToken(hash);
    if (absl::IsNotFound(found_owner.status())) {
      return absl::UnauthenticatedError("unknown job token");
    }
    if (!found_owner.ok()) return found_owner.status();
    owner = *found_owner;
    std::lock_guard<std::mutex> lock(token_mu_);
    if (token_cache_.size() >= kMaxCachedTokens) token_cache_.clear();
    token_cache_[hash] = owner;
  }
  if (owner.first != req.job_id() || owner.second != req.attempt()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token belongs to another job or attempt than job ",
                     req.job_id(), " attempt ", req.attempt()));
  }
  return absl::OkStatus();
}

grpc::Status WorkerServiceImpl::Report(grpc::ServerContext* ctx,
                                       const v1::ReportRequest* req,
                                       v1::ReportResponse*) {
  Scheduler* scheduler = scheduler_.load();
  if (scheduler == nullptr) {
    return ToGrpc(absl::UnavailableError("the server is starting; report again"));
  }
  if (absl::Status token = CheckToken(ctx, *req); !token.ok()) return ToGrpc(token);
  if (absl::Status current = scheduler->CheckReporter(req->job_id(), req->attempt());
      !current.ok()) {
    return ToGrpc(current);
  }
  v1::Event event = req->event();
  if (event.has_state_change()) {
    return ToGrpc(absl::InvalidArgumentError("workers do not report state changes"));
  }
  const bool epoch = event.has_epoch_metrics();
  const double seconds = epoch ? event.epoch_metrics().seconds() : 0;
  const std::optional<v1::EpochMetrics> epoch_metrics =
      epoch ? std::optional<v1::EpochMetrics>(event.epoch_metrics()) : std::nullopt;
  const absl::Status appended = hub_->Append(req->job_id(), std::move(event)).status();
  // A record stored before (a replay after a resume, a retried report): delivered.
  if (absl::IsAlreadyExists(appended)) return grpc::Status::OK;
  if (appended.ok() && epoch && metrics_ != nullptr) metrics_->OnEpochSeconds(seconds);
  if (appended.ok() && epoch_metrics.has_value()) {
    if (SweepManager* sweeps = sweeps_.load(); sweeps != nullptr) {
      sweeps->OnEpoch(req->job_id(), *epoch_metrics);
    }
  }
  return ToGrpc(appended);
}

}  // namespace edbp::server

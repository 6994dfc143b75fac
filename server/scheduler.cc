#include "server/scheduler.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"
#include "base/job_name.h"
#include "base/pid_lock.h"
#include "core/train/checkpoint_names.h"
#include "server/clock.h"
#include "server/data_dir.h"
#include "server/job_token.h"
#include "spdlog/spdlog.h"
#include "worker/report_spool.h"
#include "worker/run_lock.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;

int64_t IdNumber(const std::string& id) {
  int64_t n = 0;
  EDBP_CHECK(absl::SimpleAtoi(id, &n)) << id;
  return n;
}

// The last `lines` lines of a file ("" when it cannot be read).
std::string Tail(const fs::path& path, int lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
       i < all.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : "\n", all[i]);
  }
  return out;
}

// Bytes of the regular files under `dir` (0 when it does not exist).
int64_t DirectoryBytes(const fs::path& dir) {
  std::error_code ec;
  int64_t bytes = 0;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) bytes += static_cast<int64_t>(size);
    }
  }
  return bytes;
}

// Removes a deleted job's directory; a failure is logged (Recover tries again).
void RemoveJobDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    spdlog::error("{}: cannot remove: {}; the next start of the server tries again",
                  dir.string(), ec.message());
  }
}

}  // namespace

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  retry_cv_.notify_all();
  if (retrier_.joinable()) retrier_.join();
}

absl::Status Scheduler::SetState(v1::Job& job, v1::JobState state,
                                 const std::string& error) {
  absl::Status status = SetStateOnce(job, state, error);
  if (options_.store_health != nullptr) options_.store_health->OnWrite(status);
  return status;
}

absl::Status Scheduler::SetStateOnce(v1::Job& job, v1::JobState state,
                                     const std::string& error) {
  EDBP_ASSIGN_OR_RETURN(const std::string id, JobIdFromName(job.name()));
  // Re-read: the hub updates the summary fields (last_epoch, best accuracy).
  EDBP_ASSIGN_OR_RETURN(job, store_->GetJob(id));
  job.set_state(state);
  job.set_error(error);
  if (state == v1::QUEUED) job.clear_end_time();  // resumed, or re-queued
  if (state == v1::RUNNING) *job.mutable_start_time() = Now();
  if (IsTerminal(state)) *job.mutable_end_time() = Now();
  EDBP_RETURN_IF_ERROR(store_->UpdateJob(job));
  v1::Event event;
  v1::StateChange* change = event.mutable_state_change();
  change->set_state(state);
  change->set_error(error);
  change->set_device(state == v1::RUNNING ? job.device() : "");
  EDBP_RETURN_IF_ERROR(hub_->Append(id, std::move(event)).status());
  EDBP_ASSIGN_OR_RETURN(job, store_->GetJob(id));
  spdlog::info("job {} -> {}{}{}", id, v1::JobState_Name(state),
               error.empty() ? "" : ": ", error);
  return absl::OkStatus();
}

absl::Status Scheduler::Recover() {
  std::unique_lock<std::mutex> lock(mu_);
  RemoveOrphanDirectories();
  EDBP_ASSIGN_OR_RETURN(std::vector<v1::Job> running, store_->JobsInState(v1::RUNNING));
  size_t reattached = 0;
  size_t requeued = 0;
  for (v1::Job& job : running) {
    EDBP_ASSIGN_OR_RETURN(const std::string id, JobIdFromName(job.name()));
    if (executor_->RunsOutliveServer()) {
      auto run = executor_->Reattach(
          job, [this, id](const ExitInfo& exit) { OnExit(id, exit); });
      if (!run.ok()) return run.status();  // the cluster cannot tell: start no second run
      if (!run->device.empty()) {
        running_[id] = Running{{}, false, job.attempt(), ""};
        job.set_device(run->device);
        job.set_slurm_job_id(run->slurm_job_id);
        EDBP_RETURN_IF_ERROR(store_->UpdateJob(job));
        v1::Event note;
        note.mutable_log()->set_level(v1::LogLine::INFO);
        note.mutable_log()->set_text(
            absl::StrCat("the server restarted while this job ran; it follows ",
                         run->device, " again"));
        EDBP_RETURN_IF_ERROR(hub_->Append(id, std::move(note)).status());
        ++reattached;
        continue;
      }
    }
    EDBP_RETURN_IF_ERROR(SetState(job, v1::QUEUED, ""));
    ++requeued;
    v1::Event note;
    note.mutable_log()->set_level(v1::LogLine::WARNING);
    note.mutable_log()->set_text(
        "the server restarted while this job ran; it is re-queued and resumes from its "
        "last checkpoint");
    EDBP_RETURN_IF_ERROR(hub_->Append(id, std::move(note)).status());
  }
  EDBP_ASSIGN_OR_RETURN(std::vector<v1::Job> queued, store_->JobsInState(v1::QUEUED));
  for (v1::Job& job : queued) {
    EDBP_ASSIGN_OR_RETURN(const std::string id, JobIdFromName(job.name()));
    // A server that died between submitting a run to the cluster and storing it
    // RUNNING left the job QUEUED with that run's attempt: find the run by its name
    // rather than submit a second one.
    if (executor_->RunsOutliveServer() && job.attempt() > 0 &&
        job.slurm_job_id().empty()) {
      auto run = executor_->Reattach(
          job, [this, id](const ExitInfo& exit) { OnExit(id, exit); });
      if (!run.ok()) return run.status();
      if (!run->device.empty()) {
        running_[id] = Running{{}, false, job.attempt(), ""};
        job.set_device(run->device);
        job.set_slurm_job_id(run->slurm_job_id);
        EDBP_RETURN_IF_ERROR(store_->UpdateJob(job));
        EDBP_RETURN_IF_ERROR(SetState(job, v1::RUNNING, ""));
        ++reattached;
        continue;
      }
    }
    queue_.insert({-static_cast<int64_t>(job.priority()), IdNumber(id)});
  }
  spdlog::info("recovered {} queued job(s), {} re-queued after a restart, {} re-attached",
               queue_.size(), requeued, reattached);
  TrySchedule();
  const std::vector<fs::path> doomed = RetainLocked();
  lock.unlock();
  for (const fs::path& dir : doomed) RemoveJobDirectory(dir);
  return absl::OkStatus();
}

void Scheduler::RemoveOrphanDirectories() {
  std::error_code ec;
  for (fs::directory_iterator it(JobsDirectory(options_.data_dir), ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // Only what a job id names ("17"): anything else there is not the server's.
    int64_t number = 0;
    if (!absl::SimpleAtoi(name, &number) || number <= 0 || absl::StrCat(number) != name) {
      continue;
    }
    if (absl::IsNotFound(store_->GetJob(name).status())) {
      spdlog::warn("job {}: its directory outlived its deletion; removing it", name);
      RemoveJobDirectory(it->path());
    }
  }
}

absl::StatusOr<std::pair<v1::Job, bool>> Scheduler::Submit(
    v1::Job job, const std::string& request_id, const std::string& init_weights) {
  std::lock_guard<std::mutex> lock(mu_);
  job.set_state(v1::QUEUED);
  *job.mutable_create_time() = Now();
  job.set_best_test_accuracy(-1);
  EDBP_ASSIGN_OR_RETURN(auto created, store_->CreateJob(std::move(job), request_id));
  if (!created.second) return created;
  EDBP_ASSIGN_OR_RETURN(const std::string id, JobIdFromName(created.first.name()));
  v1::Event event;
  event.mutable_state_change()->set_state(v1::QUEUED);
  EDBP_RETURN_IF_ERROR(hub_->Append(id, std::move(event)).status());
  if (!init_weights.empty()) {
    const fs::path dir = JobDirectory(options_.data_dir, id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!ec) fs::create_hard_link(init_weights, dir / kInitWeightsFile, ec);
    if (ec) {  // another file system: a copy
      ec.clear();
      fs::copy_file(init_weights, dir / kInitWeightsFile,
                    fs::copy_options::overwrite_existing, ec);
    }
    if (ec) {
      EndJob(created.first, id, v1::FAILED,
             absl::StrCat("init_from: cannot copy ", init_weights, " into ", dir.string(),
                          ": ", ec.message()));
      EDBP_ASSIGN_OR_RETURN(created.first, store_->GetJob(id));
      return created;
    }
  }
  queue_.insert({-static_cast<int64_t>(created.first.priority()), IdNumber(id)});
  spdlog::info("job {} queued (priority {})", id, created.first.priority());
  TrySchedule();
  EDBP_ASSIGN_OR_RETURN(created.first, store_->GetJob(id));
  return created;
}

void Scheduler::TrySchedule() {
  while (!draining_ && !queue_.empty()) {
    const QueueKey key = *queue_.begin();
    const std::string id = absl::StrCat(key.second);
    std::vector<std::string> slots;
    if (executor_->UsesSlots()) {
      auto job = store_->GetJob(id);
      int need = 1;
      if (job.ok()) {
        const bool gpus =
            !options_.slots.empty() && options_.slots[0].rfind("cuda:", 0) == 0;
        need =
            SlotsNeeded(JobResources{std::max(1, job->workers()), job->gpus_per_worker(),
                                     std::max(1, job->nodes())},
                        gpus);
      }
      for (const std::string& slot : options_.slots) {
        if (static_cast<int>(slots.size()) == need) break;
        if (!busy_slots_.count(slot)) slots.push_back(slot);
      }
      // Gang start: all of its slots or none; the head waits and nothing overtakes it.
      if (static_cast<int>(slots.size()) < need) return;
    }
    queue_.erase(queue_.begin());
    const absl::Status started = Start(id, slots);
    if (!started.ok()) {
      spdlog::error("job {}: cannot start: {}", id, started.ToString());
      auto job = store_->GetJob(id);
      if (job.ok()) EndJob(*job, id, v1::FAILED, std::string(started.message()));
    }
  }
}

absl::Status Scheduler::Start(const std::string& id,
                              const std::vector<std::string>& slots) {
  EDBP_ASSIGN_OR_RETURN(v1::Job job, store_->GetJob(id));
  const fs::path workdir = JobDirectory(options_.data_dir, id);
  std::error_code ec;
  fs::create_directories(workdir, ec);
  if (ec) return absl::InternalError(absl::StrCat(workdir.string(), ": ", ec.message()));
  const fs::path config = workdir / kJobConfigFile;
  {
    std::ofstream out(config);
    out << job.config_yaml();
    if (!out) return absl::InternalError(absl::StrCat(config.string(), ": cannot write"));
  }
  RunSpec spec;
  spec.job_id = id;
  spec.workdir = workdir.string();
  spec.program = options_.train_program;
  spec.args = {config.string(),
               "--out-dir",
               workdir.string(),
               "--report-to",
               options_.worker_address,
               "--job-id",
               id,
               "--seed",
               absl::StrCat(job.seed())};
  if (!job.init_from().empty()) {
    spec.args.insert(spec.args.end(),
                     {"--init-weights", (workdir / kInitWeightsFile).string()});
  }
  // Jobs stored before issue 19 have none: edbp-train's default (the config's, else 20).
  if (job.has_progress_every()) {
    spec.args.insert(spec.args.end(),
                     {"--progress-every", absl::StrCat(job.progress_every())});
  }
  // A job that ran before resumes from its last checkpoint. edbp-train decides that
  // once it holds the directory's lock: a process of the previous attempt may still
  // be writing that checkpoint (worker/run_lock.h); it waits for it up to the grace
  // period, then kills it.
  const int64_t attempt = job.attempt() + 1;
  const auto grace_s = std::chrono::ceil<std::chrono::seconds>(options_.grace).count();
  spec.args.insert(spec.args.end(),
                   {"--resume-if-present", "--attempt", absl::StrCat(attempt),
                    "--wait-for-previous", absl::StrCat(std::max<int64_t>(grace_s, 1)),
                    "--checkpoint-every", absl::StrCat(options_.checkpoint_every)});
  spec.attempt = attempt;
  spec.resources = JobResources{std::max(1, job.workers()), job.gpus_per_worker(),
                                std::max(1, job.nodes())};
  spec.slots = slots;
  // The run's own token (server/job_token.h): in its environment only; the store keeps
  // its hash, written before the run exists so its first report is recognised.
  const std::string token = NewJobToken();
  spec.env[kJobTokenEnv] = token;
  if (!options_.worker_ca.empty()) spec.env[kWorkerCaEnv] = options_.worker_ca;
  EDBP_RETURN_IF_ERROR(store_->AddJobToken(id, attempt, Sha256(token)));
  // The attempt is stored before the run starts: a server that dies between the start
  // and storing its outcome finds the run again by it (Executor::Reattach).
  job.set_device(absl::StrJoin(slots, ","));
  job.set_attempt(attempt);
  job.set_slurm_job_id("");
  EDBP_RETURN_IF_ERROR(store_->UpdateJob(job));
  for (const std::string& slot : slots) busy_slots_.insert(slot);
  running_[id] = Running{slots, false, attempt, ""};
  auto started =
      executor_->Start(spec, [this, id](const ExitInfo& exit) { OnExit(id, exit); });
  if (!started.ok()) {
    for (const std::string& slot : slots) busy_slots_.erase(slot);
    running_.erase(id);
    return started.status();
  }
  EDBP_ASSIGN_OR_RETURN(job, store_->GetJob(id));
  job.set_device(started->device);
  job.set_slurm_job_id(started->slurm_job_id);
  EDBP_RETURN_IF_ERROR(store_->UpdateJob(job));
  EDBP_RETURN_IF_ERROR(SetState(job, v1::RUNNING, ""));
  spdlog::info("job {} started on {}", id, started->device);
  return absl::OkStatus();
}

void Scheduler::OnExit(const std::string& id, const ExitInfo& exit) {
  std::vector<fs::path> doomed;
  std::vector<std::pair<std::string, v1::EpochMetrics>> spooled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    OnExitLocked(id, exit);
    doomed = RetainLocked();
    spooled.swap(spooled_epochs_);
  }
  for (const fs::path& dir : doomed) RemoveJobDirectory(dir);
  // Outside the lock: the listener may cancel a job (a sweep's early stop).
  if (spooled_epoch_listener_) {
    for (const auto& [job_id, metrics] : spooled)
      spooled_epoch_listener_(job_id, metrics);
  }
}

void Scheduler::OnExitLocked(const std::string& id, const ExitInfo& exit) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  const Running run = it->second;
  running_.erase(it);
  for (const std::string& slot : run.slots) busy_slots_.erase(slot);
  // What the process could not deliver belongs before its end in the history.
  IngestSpool(id);
  auto job = store_->GetJob(id);
  if (!job.ok()) {
    spdlog::error("job {}: {}", id, job.status().ToString());
  } else if (exit.exited && exit.code == 0 && executor_->RunsOutliveServer() &&
             job->last_epoch() < job->epochs() && !run.cancel_requested) {
    // A cluster's "completed" says the batch script ended well, not that edbp-train
    // trained (a step that failed to launch ends the same): its reports must say so.
    EndJob(*job, id, v1::FAILED,
           absl::StrCat(exit.Describe(), ", but edbp-train reported ", job->last_epoch(),
                        " of ", job->epochs(), " epochs:\n",
                        Tail(JobDirectory(options_.data_dir, id) / kJobLogFile, 5)));
  } else if (exit.exited && exit.code == 0) {
    EndJob(*job, id, v1::SUCCEEDED, "");
  } else if (run.cancel_requested) {
    EndJob(*job, id, v1::CANCELLED, run.cancel_reason);
  } else if (draining_) {
    EndJob(*job, id, v1::QUEUED, "");  // resumes when the server comes back
    v1::Event note;
    note.mutable_log()->set_level(v1::LogLine::WARNING);
    note.mutable_log()->set_text(
        "the server shut down while this job ran; it stopped at a checkpoint, is "
        "re-queued and resumes from there when the server comes back");
    const absl::Status noted = hub_->Append(id, std::move(note)).status();
    if (!noted.ok()) spdlog::warn("job {}: {}", id, noted.ToString());
  } else {
    const fs::path log = JobDirectory(options_.data_dir, id) / kJobLogFile;
    std::string why = exit.detail.empty() ? absl::StrCat("edbp-train ", exit.Describe())
                                          : exit.Describe();
    const std::string tail = Tail(log, 5);
    if (!tail.empty()) absl::StrAppend(&why, ":\n", tail);
    EndJob(*job, id, v1::FAILED, why);
  }
  idle_cv_.notify_all();
  TrySchedule();
}

void Scheduler::EndJob(v1::Job& job, const std::string& id, v1::JobState state,
                       const std::string& error) {
  const absl::Status stored = SetState(job, state, error);
  if (stored.ok()) return;
  spdlog::error("job {}: its end ({}) could not be stored: {}; retrying every {} ms", id,
                v1::JobState_Name(state), stored.ToString(),
                options_.store_retry.count());
  const absl::Status why = absl::UnavailableError(
      absl::StrCat("job ", id, " ended (", v1::JobState_Name(state),
                   ") but the server cannot store it: ", stored.message(),
                   "; it is stored once the store can write again"));
  pending_ends_[id] = PendingEnd{state, error, why};
  hub_->Interrupt(id, why);
  if (!retrier_.joinable()) retrier_ = std::thread([this] { RetryLoop(); });
  retry_cv_.notify_all();
}

void Scheduler::RetryLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    retry_cv_.wait_for(lock, options_.store_retry);
    for (auto it = pending_ends_.begin(); !stopping_ && it != pending_ends_.end();) {
      const std::string id = it->first;
      auto job = store_->GetJob(id);
      const absl::Status stored =
          job.ok() ? SetState(*job, it->second.state, it->second.error) : job.status();
      if (!stored.ok()) {
        ++it;
        continue;
      }
      spdlog::info("job {}: its end ({}) is stored now", id,
                   v1::JobState_Name(it->second.state));
      it = pending_ends_.erase(it);
      idle_cv_.notify_all();
    }
  }
}

absl::Status Scheduler::EndPending(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_ends_.find(job_id);
  return it == pending_ends_.end() ? absl::OkStatus() : it->second.why;
}

absl::StatusOr<v1::Job> Scheduler::Cancel(const std::string& id,
                                          const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_ends_.count(id) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " has already ended; the server stores its end once it can write"));
  }
  EDBP_ASSIGN_OR_RETURN(v1::Job job, store_->GetJob(id));
  if (IsTerminal(job.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " has already ended (", v1::JobState_Name(job.state()), ")"));
  }
  auto it = running_.find(id);
  if (it == running_.end()) {
    queue_.erase({-static_cast<int64_t>(job.priority()), IdNumber(id)});
    EDBP_RETURN_IF_ERROR(SetState(job, v1::CANCELLED, reason));
    return job;
  }
  if (it->second.cancel_requested) return job;  // already stopping, with its reason
  it->second.cancel_requested = true;
  it->second.cancel_reason = reason;
  EDBP_RETURN_IF_ERROR(executor_->Terminate(id, options_.grace));
  spdlog::info("job {}: cancel requested (SIGTERM)", id);
  return job;
}

absl::StatusOr<v1::Job> Scheduler::Resume(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_ends_.count(id) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " has ended but its end is not stored yet; resume it once it is"));
  }
  EDBP_ASSIGN_OR_RETURN(v1::Job job, store_->GetJob(id));
  if (job.state() == v1::SUCCEEDED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id,
        " has SUCCEEDED: nothing is left to train; to train on from its weights, submit "
        "a new job with init_from jobs/",
        id));
  }
  if ((job.state() != v1::CANCELLED && job.state() != v1::FAILED) ||
      running_.count(id) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " is ", v1::JobState_Name(job.state()),
                     "; only a CANCELLED or FAILED job can be resumed"));
  }
  const bool has_checkpoint =
      fs::exists(JobDirectory(options_.data_dir, id) / train::kLastCheckpoint);
  EDBP_RETURN_IF_ERROR(SetState(job, v1::QUEUED, ""));
  v1::Event note;
  note.mutable_log()->set_level(v1::LogLine::INFO);
  note.mutable_log()->set_text(
      has_checkpoint
          ? absl::StrCat("resumed by a client; it continues from its last checkpoint (",
                         job.last_epoch(), " of ", job.epochs(), " epochs finished)")
          : "resumed by a client; it wrote no checkpoint, so it starts from the "
            "beginning");
  EDBP_RETURN_IF_ERROR(hub_->Append(id, std::move(note)).status());
  queue_.insert({-static_cast<int64_t>(job.priority()), IdNumber(id)});
  spdlog::info("job {} resumed (queued again)", id);
  TrySchedule();
  return store_->GetJob(id);
}

absl::StatusOr<fs::path> Scheduler::DeleteLocked(const std::string& id) {
  if (pending_ends_.count(id) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " has ended but its end is not stored yet; delete it once it is"));
  }
  EDBP_ASSIGN_OR_RETURN(const v1::Job job, store_->GetJob(id));
  if (!IsTerminal(job.state()) || running_.count(id) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " is ", v1::JobState_Name(job.state()),
                     "; cancel it first (only an ended job can be deleted)"));
  }
  const fs::path dir = JobDirectory(options_.data_dir, id);
  std::optional<PidLock> held;  // keeps a late process of the job out while we delete
  if (fs::exists(dir)) {
    absl::StatusOr<PidLock> lock = PidLock::TryAcquire(worker::RunLockPath(dir));
    if (!lock.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("job ", id, ": a process still holds its directory (",
                       lock.status().message(), "); try again once it has stopped"));
    }
    held.emplace(*std::move(lock));
  }
  EDBP_RETURN_IF_ERROR(store_->DeleteJob(id));
  hub_->Forget(id);
  spdlog::info("job {} deleted", id);
  return dir;
}

absl::StatusOr<Deleted> Scheduler::Delete(const std::string& id) {
  fs::path dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    EDBP_ASSIGN_OR_RETURN(dir, DeleteLocked(id));
  }
  Deleted deleted{id, DirectoryBytes(dir)};
  RemoveJobDirectory(dir);
  return deleted;
}

std::vector<fs::path> Scheduler::RetainLocked() {
  std::vector<fs::path> doomed;
  if (options_.keep_jobs <= 0 && options_.keep_age.count() <= 0) return doomed;
  std::vector<v1::Job> ended;
  bool trials = false;
  for (const v1::JobState state : {v1::SUCCEEDED, v1::FAILED, v1::CANCELLED}) {
    auto jobs = store_->JobsInState(state);
    if (!jobs.ok()) {
      spdlog::error("retention: {}", jobs.status().ToString());
      return doomed;
    }
    for (v1::Job& job : *jobs) {
      trials = trials || !job.sweep().empty();
      ended.push_back(std::move(job));
    }
  }
  // A sweep with a trial still QUEUED or RUNNING is live: its ended trials are its
  // results so far (best trial, the early-stopping policy's curves), so none of them is
  // deleted or counted until the sweep has ended; then they age like any job. (Only
  // looked up when some ended job is a trial.)
  if (trials) {
    std::set<std::string> live_sweeps;
    for (const v1::JobState state : {v1::QUEUED, v1::RUNNING}) {
      auto jobs = store_->JobsInState(state);
      if (!jobs.ok()) {
        spdlog::error("retention: {}", jobs.status().ToString());
        return doomed;
      }
      for (const v1::Job& job : *jobs) {
        if (!job.sweep().empty()) live_sweeps.insert(job.sweep());
      }
    }
    std::erase_if(ended, [&](const v1::Job& job) {
      return !job.sweep().empty() && live_sweeps.count(job.sweep()) > 0;
    });
  }
  auto end_micros = [](const v1::Job& job) {
    return job.end_time().seconds() * 1000000 + job.end_time().nanos() / 1000;
  };
  // Newest end first; ties by id, newest first.
  std::sort(ended.begin(), ended.end(), [&](const v1::Job& a, const v1::Job& b) {
    const int64_t ea = end_micros(a), eb = end_micros(b);
    if (ea != eb) return ea > eb;
    return a.name().size() != b.name().size() ? a.name().size() > b.name().size()
                                              : a.name() > b.name();
  });
  const google::protobuf::Timestamp now = Now();
  const int64_t cutoff = options_.keep_age.count() > 0
                             ? now.seconds() * 1000000 + now.nanos() / 1000 -
                                   options_.keep_age.count() * 1000000
                             : std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < ended.size(); ++i) {
    const bool too_many =
        options_.keep_jobs > 0 && static_cast<int64_t>(i) >= options_.keep_jobs;
    const bool too_old = end_micros(ended[i]) < cutoff;
    if (!too_many && !too_old) continue;
    auto id = JobIdFromName(ended[i].name());
    if (!id.ok()) continue;
    absl::StatusOr<fs::path> dir = DeleteLocked(*id);
    if (!dir.ok()) {
      spdlog::warn("retention: job {} kept: {}", *id, dir.status().ToString());
      continue;
    }
    spdlog::info(
        "retention: job {} deleted ({})", *id,
        too_many ? absl::StrCat("beyond the newest ", options_.keep_jobs, " ended jobs")
                 : absl::StrCat("ended more than ", options_.keep_age.count(), " s ago"));
    doomed.push_back(*std::move(dir));
  }
  return doomed;
}

void Scheduler::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  draining_ = true;
  // Slurm jobs go on without the server; the next one re-attaches to them.
  if (executor_->RunsOutliveServer()) return;
  for (const auto& [id, run] : running_) (void)executor_->Terminate(id, options_.grace);
  idle_cv_.wait_for(lock, options_.grace + std::chrono::seconds(5),
                    [this] { return running_.empty(); });
}

absl::Status Scheduler::CheckReporter(const std::string& job_id, int64_t attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(job_id);
  if (it == running_.end()) {
    return absl::NotFoundError(absl::StrCat("job ", job_id, " is not running"));
  }
  if (it->second.attempt != attempt) {
    return absl::AbortedError(absl::StrCat("job ", job_id, " runs attempt ",
                                           it->second.attempt, "; attempt ", attempt,
                                           " is over"));
  }
  return absl::OkStatus();
}

void Scheduler::IngestSpool(const std::string& id) {
  const fs::path dir = JobDirectory(options_.data_dir, id);
  if (!fs::exists(dir / worker::kSpoolFile)) return;
  // Only while no process holds the directory (a process of an earlier attempt that
  // still runs keeps its spool; the job's next attempt delivers it).
  absl::StatusOr<PidLock> lock = PidLock::TryAcquire(worker::RunLockPath(dir));
  if (!lock.ok()) {
    spdlog::warn("job {}: spool left for the next attempt: {}", id,
                 lock.status().ToString());
    return;
  }
  absl::StatusOr<worker::ReportSpool> spool =
      worker::ReportSpool::Open(dir / worker::kSpoolFile);
  if (!spool.ok()) {
    spdlog::error("job {}: {}", id, spool.status().ToString());
    return;
  }
  if (!spool->repair_note().empty()) {
    spdlog::warn("job {}: spool repaired: {}", id, spool->repair_note());
  }
  int64_t stored = 0;
  int64_t replayed = 0;
  const absl::Status delivered =
      spool->DeliverInOrder([&](const v1::ReportRequest& request) -> absl::Status {
        if (request.job_id() != id || request.event().has_state_change()) {
          return absl::OkStatus();  // not this job's, or not a worker's to report
        }
        absl::Status appended = hub_->Append(id, request.event()).status();
        if (absl::IsAlreadyExists(appended)) {
          ++replayed;
          return absl::OkStatus();
        }
        stored += appended.ok();
        if (appended.ok() && request.event().has_epoch_metrics()) {
          spooled_epochs_.emplace_back(id, request.event().epoch_metrics());
        }
        return appended;
      });
  if (!delivered.ok()) {
    spdlog::error("job {}: spooled events left for later: {}", id, delivered.ToString());
  }
  spdlog::info("job {}: {} spooled event(s) stored, {} stored before", id, stored,
               replayed);
}

}  // namespace edbp::server

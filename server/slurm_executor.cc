#include "server/slurm_executor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/check.h"
#include "server/data_dir.h"
#include "server/job_token.h"
#include "spdlog/spdlog.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxOptionBytes = 256;
constexpr size_t kMaxExtraOptions = 32;
constexpr char kScriptFile[] = "slurm-job.sh";

bool SafeChars(absl::string_view value) {
  for (const char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::strchr("_.,:=/+@%-", c) == nullptr) {
      return false;
    }
  }
  return true;
}

absl::Status CheckValue(absl::string_view flag, absl::string_view value) {
  if (value.size() > kMaxOptionBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", value.size(), " bytes, more than ", kMaxOptionBytes));
  }
  if (!SafeChars(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": only letters, digits and _ . , : = / + @ % - are allowed"));
  }
  return absl::OkStatus();
}

// A path for a #SBATCH line or the srun line: no whitespace, quotes or control bytes.
absl::Status CheckPath(absl::string_view what, absl::string_view path) {
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '"' || c == '\'' || c == '\\') {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", path,
          ": a path with whitespace, quotes or control characters cannot go into a "
          "Slurm batch script"));
    }
  }
  return absl::OkStatus();
}

// Single-quoted for bash.
std::string Quote(absl::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Writes `text` to `path` with mode 0600 (also when it existed with another mode).
absl::Status WritePrivate(const fs::path& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat(path.string(), ": ", std::strerror(errno)));
  }
  absl::Status status;
  if (fchmod(fd, 0600) != 0 ||
      write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    status = absl::InternalError(absl::StrCat(path.string(), ": ", std::strerror(errno)));
  }
  if (close(fd) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat(path.string(), ": ", std::strerror(errno)));
  }
  return status;
}

std::string CommandError(absl::string_view what, const CommandResult& r) {
  std::string err(absl::StripAsciiWhitespace(r.err));
  if (err.empty()) err = std::string(absl::StripAsciiWhitespace(r.out));
  return absl::StrCat(what, " failed (exit status ", r.exit_code, ")",
                      err.empty() ? "" : ": ", err);
}

}  // namespace

absl::Status CheckSlurmOptions(const SlurmOptions& options) {
  if (!options.partition.empty()) {
    EDBP_RETURN_IF_ERROR(CheckValue("--slurm-partition", options.partition));
  }
  if (!options.account.empty()) {
    EDBP_RETURN_IF_ERROR(CheckValue("--slurm-account", options.account));
  }
  if (!options.time.empty()) {
    EDBP_RETURN_IF_ERROR(CheckValue("--slurm-time", options.time));
    if (options.time.find_first_not_of("0123456789:-") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--slurm-time: expected Slurm's time format (MINUTES, "
                       "HH:MM:SS, D-HH:MM, ...), got \"",
                       options.time, "\""));
    }
  }
  if (options.extra.size() > kMaxExtraOptions) {
    return absl::InvalidArgumentError(
        absl::StrCat("--slurm-extra: ", options.extra.size(), " options, more than ",
                     kMaxExtraOptions));
  }
  static const std::set<std::string> kOwn = {
      "--job-name", "-J",      "--output",    "-o",
      "--error",    "-e",      "--ntasks",    "-n",
      "--nodes",    "-N",      "--export",    "--chdir",
      "-D",         "--wrap",  "--open-mode", "--gpus-per-task",
      "--parsable", "--array", "-a",          "--input",
      "-i"};
  for (const std::string& option : options.extra) {
    EDBP_RETURN_IF_ERROR(CheckValue("--slurm-extra", option));
    const bool long_form = absl::StartsWith(option, "--") && option.size() > 2;
    const bool short_form = option.size() == 2 && option[0] == '-' && option[1] != '-';
    if (!long_form && !short_form) {
      return absl::InvalidArgumentError(
          absl::StrCat("--slurm-extra: \"", option,
                       "\" is not an sbatch option (--name, --name=value or -x; values "
                       "go after '=')"));
    }
    const std::string name = option.substr(0, option.find('='));
    if (kOwn.count(name) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--slurm-extra: ", name, " is set by edbp-server itself (from the job)"));
    }
  }
  return absl::OkStatus();
}

std::string SlurmJobName(const std::string& data_dir, const std::string& job_id,
                         int64_t attempt) {
  return absl::StrCat("edbp-", Hex(Sha256(data_dir)).substr(0, 8), "-", job_id, "-",
                      attempt);
}

absl::StatusOr<std::string> SlurmBatchScript(const SlurmOptions& options,
                                             const RunSpec& spec) {
  EDBP_RETURN_IF_ERROR(CheckPath("--data-dir: the job directory", spec.workdir));
  EDBP_RETURN_IF_ERROR(CheckPath("--train-program", spec.program));
  const std::string log = (fs::path(spec.workdir) / kJobLogFile).string();
  std::string s =
      absl::StrCat("#!/bin/bash\n# edbp job ", spec.job_id, ", attempt ", spec.attempt,
                   " (written by edbp-server)\n#SBATCH --job-name=",
                   SlurmJobName(options.data_dir, spec.job_id, spec.attempt),
                   "\n#SBATCH --ntasks=", spec.resources.workers,
                   "\n#SBATCH --nodes=", spec.resources.nodes, "\n");
  if (spec.resources.gpus_per_worker > 0) {
    absl::StrAppend(&s, "#SBATCH --gpus-per-task=", spec.resources.gpus_per_worker, "\n");
  }
  absl::StrAppend(&s, "#SBATCH --output=", log, "\n#SBATCH --open-mode=append\n",
                  "#SBATCH --chdir=", spec.workdir, "\n");
  if (!options.partition.empty()) {
    absl::StrAppend(&s, "#SBATCH --partition=", options.partition, "\n");
  }
  if (!options.account.empty()) {
    absl::StrAppend(&s, "#SBATCH --account=", options.account, "\n");
  }
  if (!options.time.empty()) absl::StrAppend(&s, "#SBATCH --time=", options.time, "\n");
  for (const std::string& option : options.extra) {
    absl::StrAppend(&s, "#SBATCH ", option, "\n");
  }
  // -K1: one rank failing ends the others (no rank left waiting in a collective).
  absl::StrAppend(&s, "exec srun --mpi=pmix -K1 ", Quote(spec.program));
  for (const std::string& arg : spec.args) absl::StrAppend(&s, " ", Quote(arg));
  absl::StrAppend(&s, "\n");
  return s;
}

SlurmJobEnd ParseScontrolJob(const std::string& text) {
  SlurmJobEnd end;
  for (absl::string_view field : absl::StrSplit(text, absl::ByAnyChar(" \n\t"))) {
    if (absl::ConsumePrefix(&field, "JobState=")) end.state = std::string(field);
    if (absl::ConsumePrefix(&field, "Reason=")) end.reason = std::string(field);
    if (absl::ConsumePrefix(&field, "ExitCode=")) end.exit_code = std::string(field);
  }
  return end;
}

bool IsSlurmEndState(const std::string& state) {
  static const std::set<std::string> kEnd = {
      "COMPLETED", "FAILED",    "CANCELLED", "TIMEOUT",  "OUT_OF_MEMORY",
      "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT"};
  return kEnd.count(state) > 0;
}

SlurmExecutor::~SlurmExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

absl::StatusOr<CommandResult> SlurmExecutor::Slurm(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  return RunCommand(argv, env, options_.command_timeout);
}

absl::StatusOr<RunStarted> SlurmExecutor::Start(const RunSpec& spec,
                                                RunEndCallback on_end) {
  EDBP_ASSIGN_OR_RETURN(const std::string script, SlurmBatchScript(options_, spec));
  std::error_code ec;
  fs::create_directories(spec.workdir, ec);
  const fs::path path = fs::path(spec.workdir) / kScriptFile;
  EDBP_RETURN_IF_ERROR(WritePrivate(path, script));
  EDBP_ASSIGN_OR_RETURN(
      const CommandResult r,
      Slurm({"sbatch", "--parsable", "--export=ALL", path.string()}, spec.env));
  // --parsable: "ID" or "ID;CLUSTER".
  const std::string id(
      absl::StripAsciiWhitespace(absl::string_view(r.out).substr(0, r.out.find(';'))));
  if (r.exit_code != 0 || id.empty() ||
      id.find_first_not_of("0123456789") != std::string::npos) {
    return absl::UnavailableError(
        CommandError(absl::StrCat("sbatch ", path.string()), r));
  }
  Follow(spec.job_id, id, std::move(on_end));
  return RunStarted{absl::StrCat("slurm:", id), id};
}

void SlurmExecutor::Follow(const std::string& job_id, const std::string& slurm_id,
                           RunEndCallback on_end) {
  std::call_once(poller_once_, [this] { poller_ = std::thread([this] { PollLoop(); }); });
  std::lock_guard<std::mutex> lock(mu_);
  Tracked& t = tracked_[job_id];
  t.slurm_id = slurm_id;
  t.on_end = std::move(on_end);
  cv_.notify_all();
}

absl::StatusOr<RunStarted> SlurmExecutor::Reattach(const v1::Job& job,
                                                   RunEndCallback on_end) {
  const std::string job_id(absl::StripPrefix(job.name(), "jobs/"));
  std::string slurm_id = job.slurm_job_id();
  if (slurm_id.empty()) {
    // The server died between sbatch and storing the id: the run's unique name tells.
    const std::string name = SlurmJobName(options_.data_dir, job_id, job.attempt());
    EDBP_ASSIGN_OR_RETURN(const CommandResult r,
                          Slurm({"squeue", absl::StrCat("--user=", getuid()), "-h", "-t",
                                 "all", "-o", "%i", absl::StrCat("--name=", name)}));
    if (r.exit_code != 0) return absl::UnavailableError(CommandError("squeue", r));
    slurm_id = std::string(absl::StripAsciiWhitespace(r.out));
    slurm_id = slurm_id.substr(0, slurm_id.find('\n'));
    if (slurm_id.empty()) return RunStarted{};  // never submitted
  }
  Follow(job_id, slurm_id, std::move(on_end));
  return RunStarted{absl::StrCat("slurm:", slurm_id), slurm_id};
}

absl::Status SlurmExecutor::Terminate(const std::string& job_id,
                                      std::chrono::milliseconds grace) {
  std::string slurm_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tracked_.find(job_id);
    if (it == tracked_.end()) {
      return absl::NotFoundError(absl::StrCat("job ", job_id, " has no Slurm job"));
    }
    slurm_id = it->second.slurm_id;
    const auto at = std::chrono::steady_clock::now() + grace;
    if (!it->second.kill_pending || at < it->second.kill_at) it->second.kill_at = at;
    it->second.kill_pending = true;
  }
  cv_.notify_all();
  // SIGTERM to the batch shell and every step: edbp-train checkpoints and stops. A job
  // still pending has no process to signal: it is cancelled at once.
  auto r = Slurm({"scancel", "--signal=TERM", "--full", slurm_id});
  if (!r.ok() || r->exit_code != 0) {
    auto hard = Slurm({"scancel", slurm_id});
    if (!hard.ok()) return hard.status();
    if (hard->exit_code != 0) {
      return absl::UnavailableError(
          CommandError(absl::StrCat("scancel ", slurm_id), *hard));
    }
  }
  spdlog::info("job {}: scancel --signal=TERM sent to Slurm job {}", job_id, slurm_id);
  return absl::OkStatus();
}

void SlurmExecutor::PollLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.poll);
    if (stopping_) return;
    if (tracked_.empty()) continue;
    lock.unlock();
    PollOnce();
    lock.lock();
  }
}

void SlurmExecutor::PollOnce() {
  std::map<std::string, Tracked> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, t] : tracked_)
      runs[id] = Tracked{t.slurm_id, nullptr, t.kill_pending, t.kill_at};
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto& [id, t] : runs) {
    if (t.kill_pending && now >= t.kill_at) {
      (void)Slurm({"scancel", t.slurm_id});
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = tracked_.find(id); it != tracked_.end())
        it->second.kill_pending = false;
    }
  }
  auto q = Slurm(
      {"squeue", absl::StrCat("--user=", getuid()), "-h", "-t", "all", "-o", "%i|%T"});
  if (!q.ok() || q->exit_code != 0) {
    spdlog::warn("squeue failed: {}",
                 q.ok() ? CommandError("squeue", *q) : q.status().ToString());
    return;
  }
  std::map<std::string, std::string> states;  // Slurm id → JobState
  for (absl::string_view line : absl::StrSplit(q->out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, '|');
    if (parts.size() == 2) states[parts[0]] = parts[1];
  }
  for (const auto& [id, t] : runs) {
    auto it = states.find(t.slurm_id);
    if (it != states.end() && !IsSlurmEndState(it->second)) continue;
    ExitInfo exit;
    auto shown = Slurm({"scontrol", "show", "job", "-o", t.slurm_id});
    if (shown.ok() && shown->exit_code == 0) {
      const SlurmJobEnd end = ParseScontrolJob(shown->out);
      if (!IsSlurmEndState(end.state)) continue;  // squeue raced its change
      exit.exited = end.state == "COMPLETED" && end.exit_code == "0:0";
      exit.detail = absl::StrCat("Slurm job ", t.slurm_id, " ended: JobState=", end.state,
                                 " Reason=", end.reason, " ExitCode=", end.exit_code);
    } else if (it != states.end()) {
      exit.detail = absl::StrCat("Slurm job ", t.slurm_id, " ended (", it->second,
                                 "); scontrol show job failed");
      exit.exited = it->second == "COMPLETED";
    } else {
      exit.detail = absl::StrCat("Slurm no longer knows job ", t.slurm_id,
                                 ": it ended while the server was not following it");
    }
    RunEndCallback on_end;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto tracked = tracked_.find(id);
      if (tracked == tracked_.end() || tracked->second.slurm_id != t.slurm_id) continue;
      on_end = std::move(tracked->second.on_end);
      tracked_.erase(tracked);
    }
    spdlog::info("job {}: {}", id, exit.detail);
    if (on_end) on_end(exit);
  }
}

}  // namespace edbp::server

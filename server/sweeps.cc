#include "server/sweeps.h"

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/check.h"
#include "base/job_name.h"
#include "base/text_check.h"
#include "server/clock.h"
#include "server/metrics_hub.h"
#include "server/request_limits.h"
#include "server/sweep_plan.h"
#include "spdlog/spdlog.h"

namespace edbp::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// "Network.lr=0.001, Network.tau_m=5" of a trial.
std::string DescribeParameters(
    const std::vector<std::pair<std::string, std::string>>& params,
    const std::optional<uint64_t>& seed) {
  std::vector<std::string> parts;
  parts.reserve(params.size() + 1);
  for (const auto& [key, value] : params) parts.push_back(absl::StrCat(key, "=", value));
  if (seed.has_value()) parts.push_back(absl::StrCat("seed=", *seed));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string StoppedEarlyPrefix(int64_t sweep_id) {
  return absl::StrCat("stopped early by sweep ", sweep_id);
}

absl::StatusOr<int64_t> SweepIdFromName(const std::string& name) {
  absl::string_view rest = name;
  int64_t id = 0;
  if (!absl::ConsumePrefix(&rest, "sweeps/") || !absl::SimpleAtoi(rest, &id) || id <= 0 ||
      absl::StrCat(id) != rest) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: expected sweeps/ID, got \"", name, "\""));
  }
  return id;
}

absl::StatusOr<v1::Sweep> SweepManager::Create(const v1::CreateSweepRequest& request) {
  const v1::Sweep& asked = request.sweep();
  EDBP_RETURN_IF_ERROR(CheckText("sweep.config_yaml", asked.config_yaml(),
                                 kMaxConfigBytes,
                                 /*multi_line=*/true));
  EDBP_RETURN_IF_ERROR(CheckText("sweep.display_name", asked.display_name(),
                                 kMaxDisplayNameBytes, /*multi_line=*/false));
  if (asked.config_yaml().empty()) {
    return absl::InvalidArgumentError("sweep.config_yaml: required");
  }
  for (const v1::GridParameter& g : asked.grid()) {
    EDBP_RETURN_IF_ERROR(CheckText("sweep.grid.key", g.key(), 256, false));
    for (const std::string& v : g.values()) {
      EDBP_RETURN_IF_ERROR(CheckText("sweep.grid.values", v, 256, false));
    }
  }
  for (const v1::RandomParameter& r : asked.random()) {
    EDBP_RETURN_IF_ERROR(CheckText("sweep.random.key", r.key(), 256, false));
  }
  const v1::EarlyStopping& stop = asked.early_stopping();
  if (stop.grace_epochs() < 0 || stop.min_trials() < 0 || stop.eta() < 0 ||
      stop.eta() == 1 || stop.grace_epochs() > 100000 || stop.eta() > 1000 ||
      stop.min_trials() > kMaxSweepTrials) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep.early_stopping: expected grace_epochs >= 0, eta 0 (3) or >= 2, min_trials "
        ">= 0; got ",
        stop.grace_epochs(), ", ", stop.eta(), ", ", stop.min_trials()));
  }
  if (!v1::EarlyStopping::Policy_IsValid(stop.policy())) {
    return absl::InvalidArgumentError("sweep.early_stopping.policy: unknown policy");
  }

  v1::Sweep sweep;
  sweep.set_display_name(asked.display_name());
  sweep.set_config_yaml(asked.config_yaml());
  *sweep.mutable_grid() = asked.grid();
  *sweep.mutable_random() = asked.random();
  sweep.set_random_trials(asked.random_trials());
  *sweep.mutable_seeds() = asked.seeds();
  *sweep.mutable_early_stopping() = stop;
  if (request.has_sampling_seed()) {
    sweep.set_sampling_seed(request.sampling_seed());
  } else {
    std::random_device device;
    sweep.set_sampling_seed((static_cast<uint64_t>(device()) << 32) ^ device());
  }
  EDBP_ASSIGN_OR_RETURN(std::vector<PlannedTrial> plan,
                        PlanTrials(sweep.config_yaml(), sweep));

  // Every trial's config through CreateJob's own checks, before any job exists.
  const std::string base_name =
      sweep.display_name().empty() ? std::string("sweep") : sweep.display_name();
  std::vector<v1::Job> drafts;
  std::vector<std::string> errors;
  for (size_t i = 0; i < plan.size(); ++i) {
    v1::CreateJobRequest job_request;
    job_request.set_config_yaml(plan[i].config_yaml);
    job_request.set_display_name(absl::StrCat(base_name, "#", i));
    job_request.set_priority(request.priority());
    job_request.set_workers(request.workers());
    job_request.set_nodes(request.nodes());
    if (request.has_gpus_per_worker()) {
      job_request.set_gpus_per_worker(request.gpus_per_worker());
    }
    if (request.has_progress_every()) {
      job_request.set_progress_every(request.progress_every());
    }
    if (plan[i].seed.has_value()) job_request.set_seed(*plan[i].seed);
    absl::StatusOr<v1::Job> draft = draft_(job_request);
    if (!draft.ok()) {
      const std::string what = absl::StrCat(
          "trial ", i, " (", DescribeParameters(plan[i].parameters, plan[i].seed), "): ");
      for (absl::string_view line : absl::StrSplit(draft.status().message(), '\n')) {
        if (!line.empty()) errors.push_back(absl::StrCat(what, line));
      }
      continue;
    }
    drafts.push_back(*std::move(draft));
    v1::Trial* trial = sweep.add_trials();
    trial->set_index(static_cast<int32_t>(i));
    trial->set_seed(drafts.back().seed());
    for (const auto& [key, value] : plan[i].parameters) {
      v1::TrialParameter* p = trial->add_parameters();
      p->set_key(key);
      p->set_value(value);
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  sweep.set_best_test_accuracy(-1);
  if (request.validate_only()) return sweep;  // no name, time or state: nothing exists
  *sweep.mutable_create_time() = Now();
  sweep.set_state(v1::SWEEP_RUNNING);

  EDBP_ASSIGN_OR_RETURN(sweep, store_->CreateSweep(std::move(sweep)));
  for (size_t i = 0; i < drafts.size(); ++i) {
    drafts[i].set_sweep(sweep.name());
    auto created = scheduler_->Submit(std::move(drafts[i]), "");
    if (!created.ok()) {
      // The trials queued so far stay in the sweep; the others are not created.
      sweep.mutable_trials()->DeleteSubrange(static_cast<int>(i),
                                             sweep.trials_size() - static_cast<int>(i));
      (void)store_->UpdateSweep(sweep);
      return created.status();
    }
    sweep.mutable_trials(static_cast<int>(i))->set_job(created->first.name());
    // Stored as each trial is queued: a crash leaves the sweep naming its jobs.
    EDBP_RETURN_IF_ERROR(store_->UpdateSweep(sweep));
  }
  spdlog::info("{} created with {} trial(s)", sweep.name(), sweep.trials_size());
  return Get(sweep.name());
}

absl::StatusOr<v1::Sweep> SweepManager::Get(const std::string& name) {
  EDBP_ASSIGN_OR_RETURN(const int64_t id, SweepIdFromName(name));
  EDBP_ASSIGN_OR_RETURN(v1::Sweep sweep, store_->GetSweep(id));
  bool live = false;
  int32_t stopped = 0;
  sweep.set_best_job("");
  sweep.set_best_test_accuracy(-1);
  const std::string prefix = StoppedEarlyPrefix(id);
  for (const v1::Trial& trial : sweep.trials()) {
    if (trial.job().empty()) continue;
    auto job_id = JobIdFromName(trial.job());
    if (!job_id.ok()) continue;
    auto job = store_->GetJob(*job_id);
    if (!job.ok()) continue;  // deleted since
    live = live || !IsTerminal(job->state());
    stopped += job->state() == v1::CANCELLED && absl::StartsWith(job->error(), prefix);
    if (job->best_test_accuracy() > sweep.best_test_accuracy()) {
      sweep.set_best_test_accuracy(job->best_test_accuracy());
      sweep.set_best_job(job->name());
    }
  }
  sweep.set_stopped_early(stopped);
  if (sweep.state() != v1::SWEEP_CANCELLED) {
    sweep.set_state(live ? v1::SWEEP_RUNNING : v1::SWEEP_FINISHED);
  }
  return sweep;
}

absl::StatusOr<std::pair<std::vector<v1::Sweep>, std::string>> SweepManager::List(
    int page_size, const std::string& page_token) {
  const int size = page_size <= 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  int64_t before = 0;
  if (!page_token.empty() && (!absl::SimpleAtoi(page_token, &before) || before <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: expected a token from a previous response, got \"",
                     page_token, "\""));
  }
  EDBP_ASSIGN_OR_RETURN(std::vector<v1::Sweep> stored,
                        store_->ListSweeps(before, size + 1));
  std::vector<v1::Sweep> page;
  std::string next;
  for (int i = 0; i < static_cast<int>(stored.size()) && i < size; ++i) {
    EDBP_ASSIGN_OR_RETURN(v1::Sweep sweep, Get(stored[i].name()));
    page.push_back(std::move(sweep));
  }
  if (static_cast<int>(stored.size()) > size) {
    EDBP_ASSIGN_OR_RETURN(const int64_t last, SweepIdFromName(page.back().name()));
    next = absl::StrCat(last);
  }
  return std::make_pair(std::move(page), next);
}

absl::StatusOr<v1::Sweep> SweepManager::Cancel(const std::string& name) {
  EDBP_ASSIGN_OR_RETURN(const int64_t id, SweepIdFromName(name));
  EDBP_ASSIGN_OR_RETURN(v1::Sweep sweep, store_->GetSweep(id));
  sweep.set_state(v1::SWEEP_CANCELLED);
  EDBP_RETURN_IF_ERROR(store_->UpdateSweep(sweep));
  for (const v1::Trial& trial : sweep.trials()) {
    auto job_id = JobIdFromName(trial.job());
    if (!job_id.ok()) continue;
    auto job = store_->GetJob(*job_id);
    if (!job.ok() || IsTerminal(job->state())) continue;
    // An ended trial answers FAILED_PRECONDITION: it needs nothing.
    (void)scheduler_->Cancel(*job_id, absl::StrCat("cancelled with sweep ", id));
  }
  spdlog::info("{} cancelled", name);
  return Get(name);
}

std::map<std::string, AccuracyCurve>& SweepManager::CurvesOf(const v1::Sweep& sweep,
                                                             int64_t id) {
  auto found = curves_.find(id);
  if (found != curves_.end()) return found->second;
  std::map<std::string, AccuracyCurve>& curves = curves_[id];
  for (const v1::Trial& trial : sweep.trials()) {
    auto job_id = JobIdFromName(trial.job());
    if (!job_id.ok()) continue;
    auto events = store_->ReadEvents(*job_id, 1);
    if (!events.ok()) continue;
    AccuracyCurve& curve = curves[*job_id];
    for (const v1::Event& event : *events) {
      if (!event.has_epoch_metrics()) continue;
      const int64_t epoch = event.epoch_metrics().epoch();
      if (epoch < 1 || epoch > 1000000) continue;
      if (static_cast<int64_t>(curve.size()) < epoch) curve.resize(epoch, 0);
      curve[epoch - 1] = event.epoch_metrics().test_accuracy();
    }
  }
  return curves;
}

void SweepManager::OnEpoch(const std::string& job_id, const v1::EpochMetrics& metrics) {
  auto job = store_->GetJob(job_id);
  if (!job.ok() || job->sweep().empty()) return;
  auto id = SweepIdFromName(job->sweep());
  if (!id.ok()) return;
  auto sweep = store_->GetSweep(*id);
  if (!sweep.ok() || sweep->state() == v1::SWEEP_CANCELLED) return;
  std::optional<std::string> reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, AccuracyCurve>& curves = CurvesOf(*sweep, *id);
    AccuracyCurve& curve = curves[job_id];
    const int64_t epoch = metrics.epoch();
    if (epoch < 1 || epoch > 1000000) return;
    // A trial resumed from a checkpoint reports from its next epoch on: the curve
    // holds what came before, and a replayed epoch overwrites itself.
    if (static_cast<int64_t>(curve.size()) < epoch) curve.resize(epoch, 0);
    curve[epoch - 1] = metrics.test_accuracy();
    if (sweep->early_stopping().policy() == v1::EarlyStopping::NONE) return;
    const AccuracyCurve mine(curve.begin(), curve.begin() + epoch);
    std::vector<AccuracyCurve> others;
    for (const auto& [other_id, other] : curves) {
      if (other_id != job_id) others.push_back(other);
    }
    reason = EarlyStopReason(sweep->early_stopping(), mine, others);
  }
  if (!reason.has_value() || metrics.epoch() >= metrics.epochs()) return;
  const std::string why = absl::StrCat(StoppedEarlyPrefix(*id), ": ", *reason);
  const absl::Status stopped = scheduler_->Cancel(job_id, why).status();
  spdlog::info(
      "job {}: {}{}", job_id, why,
      stopped.ok() ? "" : absl::StrCat(" (not stopped: ", stopped.message(), ")"));
}

}  // namespace edbp::server

// The sweep commands of Client: sweep (CreateSweep), sweeps (ListSweeps), and get /
// cancel of a "sweeps/ID".
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/job_name.h"
#include "base/text_check.h"
#include "client/cli/client.h"
#include "client/cli/format.h"

namespace edbp::cli {
namespace {

constexpr int kSweepPageSize = 500;

}  // namespace

ExitCode Client::CreateSweep() {
  std::ifstream in(options_.config_path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    err_ << "edbp-client: cannot read " << options_.config_path << "\n";
    return ExitCode::kUsage;
  }
  if (absl::Status readable =
          CheckText(options_.config_path, text.str(), text.str().size(),
                    /*multi_line=*/true);
      !readable.ok()) {
    PrintError(std::string(readable.message()));
    return ExitCode::kInvalidArgument;
  }
  v1::CreateSweepRequest request;
  v1::Sweep* sweep = request.mutable_sweep();
  sweep->set_config_yaml(text.str());
  sweep->set_display_name(options_.display_name);
  for (const Options::Grid& g : options_.grid) {
    v1::GridParameter* p = sweep->add_grid();
    p->set_key(g.key);
    for (const std::string& v : g.values) p->add_values(v);
  }
  for (const Options::Range& r : options_.ranges) {
    v1::RandomParameter* p = sweep->add_random();
    p->set_key(r.key);
    p->set_scale(r.log ? v1::RandomParameter::LOG_UNIFORM : v1::RandomParameter::UNIFORM);
    p->set_min(r.min);
    p->set_max(r.max);
    p->set_integer(r.integer);
  }
  sweep->set_random_trials(options_.random_trials);
  for (const uint64_t seed : options_.seeds) sweep->add_seeds(seed);
  v1::EarlyStopping* stop = sweep->mutable_early_stopping();
  stop->set_policy(options_.early_stop == "median" ? v1::EarlyStopping::MEDIAN
                   : options_.early_stop == "halving"
                       ? v1::EarlyStopping::SUCCESSIVE_HALVING
                       : v1::EarlyStopping::NONE);
  stop->set_grace_epochs(options_.grace_epochs);
  stop->set_eta(options_.eta);
  stop->set_min_trials(options_.min_trials);
  if (options_.has_sampling_seed) request.set_sampling_seed(options_.sampling_seed);
  request.set_priority(options_.priority);
  request.set_workers(options_.workers);
  request.set_nodes(options_.nodes);
  if (options_.gpus_per_worker >= 0)
    request.set_gpus_per_worker(options_.gpus_per_worker);
  request.set_validate_only(options_.validate_only);
  if (options_.progress_every >= 0) request.set_progress_every(options_.progress_every);
  v1::Sweep created;
  // Not retried: a retry after a lost answer would queue the trials twice.
  const grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->CreateSweep(c, request, &created); },
      /*retry=*/false);
  if (!status.ok()) return Fail(status);
  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(created) << "\n" << std::flush;
    return ExitCode::kOk;
  }
  if (options_.validate_only) {
    out_ << options_.config_path << ": the sweep's " << created.trials_size()
         << " trial configs are valid (sampling seed " << created.sampling_seed()
         << ")\n";
  } else {
    out_ << "created " << created.name() << " \"" << created.display_name() << "\" with "
         << created.trials_size() << " trials (sampling seed " << created.sampling_seed()
         << ")\n";
  }
  out_ << FormatSweepDetails(created, {}) << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::ListSweeps() {
  std::vector<v1::Sweep> all;
  std::set<std::string> tokens_seen;
  std::string token;
  do {
    v1::ListSweepsRequest request;
    request.set_page_size(kSweepPageSize);
    request.set_page_token(token);
    v1::ListSweepsResponse page;
    const grpc::Status status = CallUnary(
        [&](grpc::ClientContext* c) { return stub_->ListSweeps(c, request, &page); },
        /*retry=*/true);
    if (!status.ok()) return Fail(status);
    for (v1::Sweep& sweep : *page.mutable_sweeps()) all.push_back(std::move(sweep));
    token = page.next_page_token();
    if (!token.empty() && !tokens_seen.insert(token).second) {
      PrintError(absl::StrCat("edbp-server repeated the page token '", token, "'"));
      return ExitCode::kFailed;
    }
  } while (!token.empty());
  if (options_.output == OutputFormat::kJson) {
    v1::ListSweepsResponse doc;
    for (v1::Sweep& sweep : all) *doc.add_sweeps() = std::move(sweep);
    out_ << ToJson(doc) << "\n";
  } else if (all.empty()) {
    out_ << "no sweeps\n";
  } else {
    out_ << FormatSweepTable(all);
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::GetSweep() {
  v1::GetSweepRequest request;
  request.set_name(options_.sweep);
  v1::Sweep sweep;
  grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->GetSweep(c, request, &sweep); },
      /*retry=*/true);
  if (!status.ok()) return Fail(status);
  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(sweep) << "\n" << std::flush;
    return ExitCode::kOk;
  }
  std::map<std::string, v1::Job> jobs;
  for (const v1::Trial& trial : sweep.trials()) {
    if (trial.job().empty()) continue;
    v1::Job job;
    status = FetchJob(trial.job(), &job);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) continue;  // deleted
    if (!status.ok()) return Fail(status);
    jobs[trial.job()] = std::move(job);
  }
  out_ << FormatSweepDetails(sweep, jobs) << std::flush;
  return ExitCode::kOk;
}

ExitCode Client::CancelSweep() {
  v1::CancelSweepRequest request;
  request.set_name(options_.sweep);
  v1::Sweep sweep;
  const grpc::Status status = CallUnary(
      [&](grpc::ClientContext* c) { return stub_->CancelSweep(c, request, &sweep); },
      /*retry=*/false);
  if (!status.ok()) return Fail(status);
  if (options_.output == OutputFormat::kJson) {
    out_ << ToJson(sweep) << "\n";
  } else {
    out_ << sweep.name() << " cancelled: its queued and running trials stop\n";
  }
  out_ << std::flush;
  return ExitCode::kOk;
}

}  // namespace edbp::cli

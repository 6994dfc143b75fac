// GET /api/jobs/{id}/gradient-flow?checkpoint=last|best (issue 19 item 5): the
// gradient-flow report of a job's checkpoint, made here as `edbp-client gradient-flow`
// makes it (client/cli/gradient_flow_command.h): GetJob gives the config and seed,
// DownloadCheckpoint the checkpoint, and the local edbp-train runs
// `job-ID.yaml --init-weights job-ID-KIND.safetensors --gradient-flow report --seed S`
// in a temporary directory. See dashboard_server.h for the answers.
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/common/local_program.h"
#include "client/dashboard/dashboard_server.h"
#include "client/dashboard/http_reply.h"
#include "httplib.h"

namespace edbp::dashboard {
namespace {

// Checkpoints larger than this are refused (the reports are for the networks of the
// paper, whose checkpoints are megabytes).
constexpr int64_t kMaxCheckpointBytes = int64_t{2} << 30;
// The output of a failed edbp-train shown in the answer: its end.
constexpr size_t kMaxShownOutput = 4000;

}  // namespace

GradientFlowCache::GradientFlowCache(size_t capacity) : capacity_(capacity) {}

std::optional<std::string> GradientFlowCache::Find(const std::string& key) {
  absl::MutexLock lock(&mu_);
  for (const auto& [k, report] : entries_) {
    if (k == key) return report;
  }
  return std::nullopt;
}

void GradientFlowCache::Add(const std::string& key, std::string report) {
  absl::MutexLock lock(&mu_);
  for (const auto& entry : entries_) {
    if (entry.first == key) return;
  }
  entries_.emplace_back(key, std::move(report));
  while (entries_.size() > capacity_) entries_.pop_front();
}

void DashboardServer::RouteGradientFlowApi() {
  http_->Get(R"(/api/jobs/([^/]*)/gradient-flow)", [this](const httplib::Request& req,
                                                          httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("jobs", "job", req.matches[1].str(), res);
    if (!name.has_value()) return;
    const std::string kind =
        req.has_param("checkpoint") ? req.get_param_value("checkpoint") : "last";
    if (kind != "last" && kind != "best") {
      Refuse(res, 400, "INVALID_ARGUMENT",
             absl::StrCat("checkpoint must be last or best, not '", kind.substr(0, 40),
                          "'"));
      return;
    }
    const bool best = kind == "best";
    absl::StatusOr<std::string> train =
        client::FindTrainProgram(options_.train_program, "--train-program");
    if (!train.ok()) {
      Refuse(res, 503, "UNAVAILABLE",
             absl::StrCat("the dashboard cannot make gradient-flow reports: ",
                          train.status().message()));
      return;
    }
    // The job (config and seed), then its checkpoint.
    v1::Job job;
    if (const grpc::Status status = FetchJob(*name, &job); !status.ok()) {
      Reply(res, status, job);
      return;
    }
    std::string checkpoint;
    {
      v1::DownloadCheckpointRequest request;
      request.set_name(*name);
      request.set_best(best);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + 6 * options_.rpc_timeout));
      std::unique_ptr<grpc::ClientReaderInterface<v1::CheckpointChunk>> reader =
          stub_->DownloadCheckpoint(&context, request);
      v1::CheckpointChunk chunk;
      int64_t total = -1;
      while (reader->Read(&chunk)) {
        if (total < 0) total = chunk.total_bytes();
        if (static_cast<int64_t>(checkpoint.size() + chunk.data().size()) >
            kMaxCheckpointBytes) {
          context.TryCancel();
          while (reader->Read(&chunk)) {
          }
          (void)reader->Finish();
          Refuse(res, 413, "RESOURCE_EXHAUSTED",
                 absl::StrCat("the ", kind, " checkpoint of ", *name, " is larger than ",
                              kMaxCheckpointBytes, " bytes"));
          return;
        }
        checkpoint += chunk.data();
      }
      const grpc::Status status = reader->Finish();
      if (!status.ok()) {
        Reply(res, status, job);
        return;
      }
      if (total < 0) total = 0;  // no chunk at all: an empty file
      if (total != static_cast<int64_t>(checkpoint.size())) {
        Refuse(res, 502, "DATA_LOSS",
               absl::StrCat("the ", kind, " checkpoint of ", *name, " ended after ",
                            checkpoint.size(), " of ", total, " bytes"));
        return;
      }
    }
    // One report per (job, checkpoint bytes, seed): a finished job's report is made
    // once; a running job's "last" changes with each epoch and gets a new one.
    const std::string key =
        absl::StrCat(*name, " ", kind, " ", job.seed(), " ", checkpoint.size(), " ",
                     std::hash<std::string>()(checkpoint));
    res.set_header("Cache-Control", "no-store");
    if (std::optional<std::string> cached = gradient_flow_cache_.Find(key)) {
      res.set_header("X-Edbp-Report", "cached");
      res.set_content(*cached, kJsonType);
      return;
    }
    // One computation at a time: edbp-train takes the machine's cores.
    if (!computing_gradient_flow_.TryLock()) {
      Refuse(res, 429, "RESOURCE_EXHAUSTED",
             "another gradient-flow report is being computed; try again when it is done");
      return;
    }
    const absl::Cleanup unlock = [this] { computing_gradient_flow_.Unlock(); };
    absl::StatusOr<client::TempDir> dir = client::TempDir::Make("edbp-dashboard-flow");
    if (!dir.ok()) {
      Refuse(res, 500, "INTERNAL", std::string(dir.status().message()));
      return;
    }
    const std::string stem = absl::StrCat("job-", name->substr(name->find('/') + 1));
    const std::string config = stem + ".yaml";
    const std::string weights = absl::StrCat(stem, "-", kind, ".safetensors");
    const auto write = [&](const std::string& file, const std::string& text) {
      std::ofstream out(dir->path() + "/" + file, std::ios::binary);
      out << text;
      if (out.flush()) return true;
      Refuse(res, 500, "INTERNAL", absl::StrCat("cannot write ", dir->path(), "/", file));
      return false;
    };
    if (!write(config, job.config_yaml()) || !write(weights, checkpoint)) return;
    checkpoint.clear();
    absl::StatusOr<std::pair<int, std::string>> ran =
        client::RunProgram({*train, config, "--init-weights", weights, "--gradient-flow",
                            "report", "--seed", absl::StrCat(job.seed())},
                           dir->path());
    if (!ran.ok() || ran->first != 0) {
      const std::string output =
          ran.ok() ? ran->second : std::string(ran.status().message());
      Refuse(
          res, 500, "INTERNAL",
          absl::StrCat(
              *train, " failed",
              ran.ok() ? absl::StrCat(" (", client::DescribeExitStatus(ran->first), ")")
                       : "",
              ": ",
              output.size() > kMaxShownOutput
                  ? output.substr(output.size() - kMaxShownOutput)
                  : output));
      return;
    }
    std::ifstream in(dir->path() + "/report.json", std::ios::binary);
    std::string report((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
    if (report.empty()) {
      Refuse(res, 500, "INTERNAL", absl::StrCat(*train, " wrote no report"));
      return;
    }
    gradient_flow_cache_.Add(key, report);
    res.set_header("X-Edbp-Report", "computed");
    res.set_content(report, kJsonType);
  });
}

}  // namespace edbp::dashboard

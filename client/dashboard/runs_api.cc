// The routes of the run comparison, the sweep view and the job lifecycle (issue 19):
// GET /api/jobs/{id}, /api/jobs/{id}/epochs, /api/sweeps, /api/sweeps/{id}; POST
// /api/jobs/{id}/delete, /resume, /api/sweeps/{id}/cancel. See dashboard_server.h.
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/common/job_stream.h"
#include "client/common/json.h"
#include "client/dashboard/dashboard_server.h"
#include "client/dashboard/http_reply.h"
#include "client/dashboard/run_json.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"

namespace edbp::dashboard {
namespace {

using client::StreamItem;

constexpr int kSweepPageSize = 1000;  // the server's maximum
constexpr int kMaxSweepPages = 10;
constexpr size_t kMaxSweepRequestBytes = 1 << 20;

}  // namespace

void DashboardServer::RouteRunsApi() {
  http_->Get(R"(/api/jobs/([^/]*))",
             [this](const httplib::Request& req, httplib::Response& res) {
               const std::optional<std::string> name =
                   ResourceName("jobs", "job", req.matches[1].str(), res);
               if (!name.has_value()) return;
               v1::Job job;
               const grpc::Status status = FetchJob(*name, &job);
               if (!status.ok()) {
                 Reply(res, status, job);
                 return;
               }
               res.set_header("Cache-Control", "no-store");
               res.set_content(JobDetailJson(job), kJsonType);
             });

  http_->Get(R"(/api/jobs/([^/]*)/epochs)", [this](const httplib::Request& req,
                                                   httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("jobs", "job", req.matches[1].str(), res);
    if (!name.has_value()) return;
    // The records up to the job's latest event (as `edbp-client metrics` reads them):
    // the stream replays them, and stops being read there even while the job runs.
    v1::Job job;
    const grpc::Status status = FetchJob(*name, &job);
    if (!status.ok()) {
      Reply(res, status, job);
      return;
    }
    std::vector<v1::EpochMetrics> records;
    if (job.last_sequence() > 0) {
      client::FollowPolicy policy;
      policy.backoff = options_.backoff;
      policy.max_failed_attempts = 1;
      client::JobStream stream(stub_.get(), *name, /*from_sequence=*/1, policy);
      const absl::Time deadline = absl::Now() + 3 * options_.rpc_timeout;
      for (;;) {
        std::optional<StreamItem> item = stream.Next(deadline - absl::Now());
        if (!item.has_value()) {
          Refuse(res, 504, "DEADLINE_EXCEEDED",
                 absl::StrCat("the events of ", *name, " did not all arrive in time"));
          return;
        }
        if (item->kind == StreamItem::Kind::kError) {
          Reply(res, item->status, job);
          return;
        }
        if (item->kind == StreamItem::Kind::kEnd) break;
        if (item->kind != StreamItem::Kind::kEvent) continue;
        if (item->event.has_epoch_metrics()) {
          AddEpochRecord(item->event.epoch_metrics(), &records);
        }
        if (item->event.sequence() >= job.last_sequence()) break;
      }
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(EpochsJson(job, records), kJsonType);
  });

  http_->Post(R"(/api/jobs/([^/]*)/delete)", [this](const httplib::Request& req,
                                                    httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("jobs", "job", req.matches[1].str(), res);
    if (!name.has_value()) return;
    v1::DeleteJobRequest request;
    request.set_name(*name);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::DeleteJobResponse response;
    const grpc::Status status = stub_->DeleteJob(&context, request, &response);
    Reply(res, status, response);
    if (status.ok()) monitor_.Wake();
  });

  http_->Post(R"(/api/jobs/([^/]*)/resume)", [this](const httplib::Request& req,
                                                    httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("jobs", "job", req.matches[1].str(), res);
    if (!name.has_value()) return;
    v1::ResumeJobRequest request;
    request.set_name(*name);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::Job job;
    const grpc::Status status = stub_->ResumeJob(&context, request, &job);
    Reply(res, status, job);
    if (status.ok()) monitor_.Wake();
  });
}

void DashboardServer::RouteSweepsApi() {
  http_->Get(R"(/api/sweeps)", [this](const httplib::Request&, httplib::Response& res) {
    std::vector<v1::Sweep> sweeps;
    std::set<std::string> tokens;
    std::string token;
    for (int page = 0; page < kMaxSweepPages; ++page) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
      v1::ListSweepsRequest request;
      request.set_page_size(kSweepPageSize);
      request.set_page_token(token);
      v1::ListSweepsResponse response;
      const grpc::Status status = stub_->ListSweeps(&context, request, &response);
      if (!status.ok()) {
        // 200 all the same: the page polls this as it polls /api/jobs, and says that
        // edbp-server is away from those answers (a failed fetch would be logged).
        res.set_header("Cache-Control", "no-store");
        res.set_content(SweepListJson({}, client::DescribeStatus(status)), kJsonType);
        return;
      }
      for (v1::Sweep& sweep : *response.mutable_sweeps())
        sweeps.push_back(std::move(sweep));
      token = response.next_page_token();
      if (token.empty() || !tokens.insert(token).second) break;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(SweepListJson(sweeps, ""), kJsonType);
  });

  http_->Post(R"(/api/sweeps)", [this](const httplib::Request& req,
                                       httplib::Response& res) {
    if (req.body.empty() || req.body.size() > kMaxSweepRequestBytes) {
      Refuse(res, 400, "INVALID_ARGUMENT",
             "the request body must be a CreateSweepRequest as JSON, at most 1 MiB");
      return;
    }
    v1::CreateSweepRequest request;
    const auto parsed = google::protobuf::util::JsonStringToMessage(req.body, &request);
    if (!parsed.ok()) {
      Refuse(res, 400, "INVALID_ARGUMENT",
             absl::StrCat("the body is no CreateSweepRequest: ",
                          std::string(parsed.message().data(), parsed.message().size())));
      return;
    }
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::Sweep sweep;
    const grpc::Status status = stub_->CreateSweep(&context, request, &sweep);
    Reply(res, status, sweep);
    if (status.ok()) monitor_.Wake();
  });

  http_->Get(R"(/api/sweeps/([^/]*))", [this](const httplib::Request& req,
                                              httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("sweeps", "sweep", req.matches[1].str(), res);
    if (!name.has_value()) return;
    v1::GetSweepRequest request;
    request.set_name(*name);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::Sweep sweep;
    const grpc::Status status = stub_->GetSweep(&context, request, &sweep);
    res.set_header("Cache-Control", "no-store");
    Reply(res, status, sweep);
  });

  http_->Post(R"(/api/sweeps/([^/]*)/cancel)", [this](const httplib::Request& req,
                                                      httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("sweeps", "sweep", req.matches[1].str(), res);
    if (!name.has_value()) return;
    v1::CancelSweepRequest request;
    request.set_name(*name);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::Sweep sweep;
    const grpc::Status status = stub_->CancelSweep(&context, request, &sweep);
    Reply(res, status, sweep);
    if (status.ok()) monitor_.Wake();
  });
}

grpc::Status DashboardServer::FetchJob(const std::string& name, v1::Job* job) {
  v1::GetJobRequest request;
  request.set_name(name);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  return stub_->GetJob(&context, request, job);
}

}  // namespace edbp::dashboard

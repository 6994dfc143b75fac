#include "client/dashboard/dashboard_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/common/json.h"
#include "client/dashboard/http_reply.h"
#include "core/train/statistics.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace edbp::dashboard {

using client::JobStream;
using client::StreamItem;

using client::ToJson;
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr int kMaxItemsPerWrite = 256;

// The host part of a Host header: "127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "::1".
std::string HostName(std::string host) {
  host = absl::AsciiStrToLower(host);
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

bool IsLoopbackHostName(const std::string& name) {
  if (name == "localhost" || name == "::1") return true;
  absl::StatusOr<ListenAddress> address = ParseListenAddress(absl::StrCat(name, ":0"));
  return address.ok() && address->loopback;
}

std::string RandomRequestId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  return absl::StrFormat("dashboard-%016x%016x", rng(), rng());
}

// POST /api/jobs's request: the body is the config YAML, the rest comes from the query
// and headers. Refuses `res` and returns nothing when they are invalid.
std::optional<v1::CreateJobRequest> CreateJobRequestFrom(const httplib::Request& req,
                                                         httplib::Response& res) {
  if (req.body.empty()) {
    Refuse(res, 400, "INVALID_ARGUMENT", "the request body must be the config YAML");
    return std::nullopt;
  }
  if (req.body.size() > kMaxConfigBytes) {
    Refuse(res, 400, "INVALID_ARGUMENT", "the config is larger than 1 MiB");
    return std::nullopt;
  }
  v1::CreateJobRequest request;
  request.set_config_yaml(req.body);
  request.set_display_name(req.get_param_value("name"));
  const std::string priority = req.get_param_value("priority");
  int32_t value = 0;
  if (!priority.empty() && !absl::SimpleAtoi(priority, &value)) {
    Refuse(res, 400, "INVALID_ARGUMENT",
           absl::StrCat("priority must be an integer, not '", priority, "'"));
    return std::nullopt;
  }
  request.set_priority(value);
  request.set_validate_only(req.get_param_value("validate_only") == "true");
  std::string request_id = req.get_header_value("X-Request-Id");
  request.set_request_id(request_id.empty() ? RandomRequestId() : request_id);
  return request;
}

// The first sequence number an event stream sends: ?from=N (default 1), or the one after
// Last-Event-ID. Refuses `res` and returns nothing when `from` is invalid.
std::optional<int64_t> FirstSequence(const httplib::Request& req,
                                     httplib::Response& res) {
  int64_t from = 1;
  const std::string from_text = req.get_param_value("from");
  if (!from_text.empty() && (!absl::SimpleAtoi(from_text, &from) || from < 1)) {
    Refuse(res, 400, "INVALID_ARGUMENT",
           absl::StrCat("from must be a sequence number >= 1, not '", from_text, "'"));
    return std::nullopt;
  }
  // EventSource reconnects with the id of the last message it received.
  int64_t last_event_id = 0;
  if (absl::SimpleAtoi(req.get_header_value("Last-Event-ID"), &last_event_id) &&
      last_event_id >= from) {
    from = last_event_id + 1;
  }
  return from;
}

// "event: NAME\ndata: JSON\n\n" (with "id: N" for job events).
std::string SseMessage(const StreamItem& item) {
  switch (item.kind) {
    case StreamItem::Kind::kEvent:
      return absl::StrCat("id: ", item.event.sequence(),
                          "\nevent: edbp\ndata: ", ToJson(item.event), "\n\n");
    case StreamItem::Kind::kUnreachable:
    case StreamItem::Kind::kReachable: {
      const nlohmann::json doc = {
          {"reachable", item.kind == StreamItem::Kind::kReachable},
          {"error", item.message}};
      return absl::StrCat(
          "event: status\ndata: ",
          doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "\n\n");
    }
    case StreamItem::Kind::kEnd:
      return "event: end\ndata: {}\n\n";
    case StreamItem::Kind::kError: {
      const nlohmann::json doc = {{"error", item.message}};
      return absl::StrCat(
          "event: failure\ndata: ",
          doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "\n\n");
    }
  }
  return "";
}

// Why binding host:port fails, found by trying it (httplib only says that it did).
std::string BindFailure(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  const int gai = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) return gai_strerror(gai);
  std::string reason = "the address cannot be bound";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) {
      reason = strerror(errno);
      continue;
    }
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1) != 0) {
      reason = strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(found);
  return reason;
}

}  // namespace

DashboardServer::DashboardServer(std::shared_ptr<grpc::Channel> channel,
                                 std::span<const Asset> assets, DashboardOptions options)
    : DashboardServer(v1::TrainingService::NewStub(std::move(channel)), assets,
                      std::move(options)) {}

DashboardServer::DashboardServer(std::unique_ptr<v1::TrainingService::StubInterface> stub,
                                 std::span<const Asset> assets, DashboardOptions options)
    : stub_(std::move(stub)),
      assets_(assets),
      options_(std::move(options)),
      monitor_(stub_.get(), options_.poll_interval, options_.rpc_timeout,
               options_.backoff),
      http_(std::make_unique<httplib::Server>()) {
  const int threads = std::max(options_.http_threads, 4);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  Routes();
}

DashboardServer::~DashboardServer() { Stop(); }

absl::Status DashboardServer::Listen(const ListenAddress& address) {
  loopback_ = address.loopback;
  if (address.port == 0) {
    const int port = http_->bind_to_any_port(address.host);
    if (port > 0) port_ = port;
  } else if (http_->bind_to_port(address.host, address.port)) {
    port_ = address.port;
  }
  if (port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address.ToString(),
                                               ": ", BindFailure(address)));
  }
  bound_ = true;
  return absl::OkStatus();
}

void DashboardServer::Serve() {
  if (!bound_ || stopping_.load()) return;
  http_->listen_after_bind();
}

void DashboardServer::Stop() {
  stopping_.store(true);
  http_->stop();
}

void DashboardServer::Routes() {
  RouteGuards();
  RouteJobsApi();
  RouteEvents();
  RouteRunsApi();
  RouteSweepsApi();
  RouteGradientFlowApi();
  RouteAssets();
}

void DashboardServer::RouteGuards() {
  http_->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (loopback_ && !IsLoopbackHostName(HostName(req.get_header_value("Host")))) {
          Refuse(res, 403, "PERMISSION_DENIED",
                 "the dashboard answers only requests for a loopback host");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method == "POST" && req.get_header_value("X-Edbp-Dashboard") != "1") {
          Refuse(res, 403, "PERMISSION_DENIED", "missing the header X-Edbp-Dashboard: 1");
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
}

void DashboardServer::RouteJobsApi() {
  http_->Get(R"(/api/info)", [this](const httplib::Request&, httplib::Response& res) {
    const nlohmann::json doc = {{"server", options_.server_address}};
    res.set_content(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    kJsonType);
  });

  // The one vocabulary (core/train/statistics.h): the page's labels and units.
  http_->Get(R"(/api/statistics)", [](const httplib::Request&, httplib::Response& res) {
    nlohmann::json doc = {{"epoch", nlohmann::json::array()},
                          {"layer", nlohmann::json::array()}};
    const auto entry = [](const auto& s) {
      return nlohmann::json{
          {"name", s.name}, {"label", s.label}, {"unit", s.unit}, {"meaning", s.meaning}};
    };
    for (const train::EpochStatistic& s : train::EpochStatistics()) {
      doc["epoch"].push_back(entry(s));
    }
    for (const train::LayerStatistic& s : train::LayerStatistics()) {
      doc["layer"].push_back(entry(s));
    }
    res.set_content(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    kJsonType);
  });

  http_->Get(R"(/api/jobs)", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(monitor_.SnapshotJson(), kJsonType);
  });

  http_->Post(R"(/api/jobs)", [this](const httplib::Request& req,
                                     httplib::Response& res) {
    const std::optional<v1::CreateJobRequest> request = CreateJobRequestFrom(req, res);
    if (!request.has_value()) return;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::Job job;
    const grpc::Status status = stub_->CreateJob(&context, *request, &job);
    Reply(res, status, job);
    if (status.ok()) monitor_.Wake();
  });

  http_->Post(R"(/api/jobs/([^/]*)/cancel)", [this](const httplib::Request& req,
                                                    httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("jobs", "job", req.matches[1].str(), res);
    if (!name.has_value()) return;
    v1::CancelJobRequest request;
    request.set_name(*name);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    v1::Job job;
    const grpc::Status status = stub_->CancelJob(&context, request, &job);
    Reply(res, status, job);
    if (status.ok()) monitor_.Wake();
  });
}

void DashboardServer::RouteEvents() {
  http_->Get(R"(/api/jobs/([^/]*)/events)", [this](const httplib::Request& req,
                                                   httplib::Response& res) {
    const std::optional<std::string> name =
        ResourceName("jobs", "job", req.matches[1].str(), res);
    if (!name.has_value()) return;
    const std::optional<int64_t> from = FirstSequence(req, res);
    if (!from.has_value()) return;
    client::FollowPolicy policy;  // a page stays open across any outage: never give up
    policy.backoff = options_.backoff;
    auto stream = std::make_shared<JobStream>(stub_.get(), *name, *from, policy);
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, stream, started = false, last_write = absl::Now()](
            size_t, httplib::DataSink& sink) mutable {
          std::string out;
          if (!started) {
            started = true;
            out = "retry: 2000\n\n";  // EventSource's reconnect delay, ms
          }
          if (stopping_.load()) return false;
          bool end = false;
          std::optional<StreamItem> item = stream->Next(absl::Seconds(1));
          for (int taken = 0; item.has_value() && !end; ++taken) {
            absl::StrAppend(&out, SseMessage(*item));
            end = item->kind == StreamItem::Kind::kEnd ||
                  item->kind == StreamItem::Kind::kError;
            if (end || taken + 1 >= kMaxItemsPerWrite) break;
            item = stream->Next(absl::ZeroDuration());
          }
          const absl::Time now = absl::Now();
          if (out.empty() && now - last_write >= options_.keepalive) {
            out = ": keepalive\n\n";  // a write notices a client that went away
          }
          if (!out.empty()) {
            if (!sink.write(out.data(), out.size())) return false;
            last_write = now;
          }
          if (end) sink.done();
          return true;
        },
        [stream](bool) { stream->Stop(); });
  });
}

void DashboardServer::RouteAssets() {
  http_->Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string path = req.path == "/" ? "/index.html" : req.path;
    for (const Asset& asset : assets_) {
      if (asset.path == path) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(std::string(asset.body), std::string(asset.content_type));
        return;
      }
    }
    Refuse(res, 404, "NOT_FOUND", absl::StrCat("no such page: ", req.path));
  });
}

}  // namespace edbp::dashboard

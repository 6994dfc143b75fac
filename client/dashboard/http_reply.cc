#include "client/dashboard/http_reply.h"

#include "absl/strings/str_cat.h"
#include "base/job_name.h"
#include "client/common/json.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace edbp::dashboard {

int HttpStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
      return 409;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 502;
  }
}

void Reply(httplib::Response& res, const grpc::Status& status,
           const google::protobuf::Message& message) {
  res.status = HttpStatus(status.error_code());
  res.set_content(status.ok() ? client::ToJson(message) : client::StatusJson(status),
                  kJsonType);
}

void Refuse(httplib::Response& res, int http_status, const std::string& code,
            const std::string& error) {
  res.status = http_status;
  const nlohmann::json doc = {{"code", code}, {"error", error}};
  res.set_content(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  kJsonType);
}

std::optional<std::string> ResourceName(const std::string& collection,
                                        const std::string& noun, const std::string& id,
                                        httplib::Response& res) {
  // Sweep ids are made as job ids are (server/job_store.h): the same check fits both.
  if (IsJobId(id)) return absl::StrCat(collection, "/", id);
  // The id is echoed back: at most 40 characters of it.
  const std::string shown = id.size() > 40 ? absl::StrCat(id.substr(0, 40), "...") : id;
  Refuse(res, 400, "INVALID_ARGUMENT",
         absl::StrCat("invalid ", noun, " id '", shown,
                      "': expected 1 to 19 decimal digits, at most 9223372036854775807"));
  return std::nullopt;
}

}  // namespace edbp::dashboard

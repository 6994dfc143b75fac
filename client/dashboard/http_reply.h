// How the dashboard's JSON API answers (shared by its route files): a message or a
// failed call as JSON with an HTTP status that matches the gRPC code, and the ids in
// request paths checked before anything reaches edbp-server.
#ifndef EDBP_CLIENT_DASHBOARD_HTTP_REPLY_H_
#define EDBP_CLIENT_DASHBOARD_HTTP_REPLY_H_

#include <optional>
#include <string>

#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace httplib {
struct Response;
}  // namespace httplib

namespace edbp::dashboard {

inline constexpr char kJsonType[] = "application/json";

// 200 for OK; 400, 401, 403, 404, 409, 503, 504 for the matching gRPC codes; else 502.
int HttpStatus(grpc::StatusCode code);

// The message as JSON (client::ToJson) when `status` is OK, else StatusJson(status).
void Reply(httplib::Response& res, const grpc::Status& status,
           const google::protobuf::Message& message);

// {"code": CODE, "error": ERROR} with `http_status`.
void Refuse(httplib::Response& res, int http_status, const std::string& code,
            const std::string& error);

// The resource name "<collection>/<id>" ("jobs/17", "sweeps/3") of an id taken from a
// request path, or nothing after answering 400 INVALID_ARGUMENT:
//   invalid job id 'abc': expected 1 to 19 decimal digits, at most 9223372036854775807
// `noun` is "job" or "sweep". Ids are the store's: 1 to 19 digits, at most INT64_MAX.
std::optional<std::string> ResourceName(const std::string& collection,
                                        const std::string& noun, const std::string& id,
                                        httplib::Response& res);

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_HTTP_REPLY_H_

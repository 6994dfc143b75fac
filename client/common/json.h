// JSON renderings of the public API's messages and of failed calls, one definition for
// every client: `edbp-client --output json` and the dashboard's page and API.
#ifndef EDBP_CLIENT_COMMON_JSON_H_
#define EDBP_CLIENT_COMMON_JSON_H_

#include <string>

#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace edbp::client {

// The message as one line of JSON: proto field names, every field present, enums by
// name, int64 as strings (protobuf's JSON mapping).
std::string ToJson(const google::protobuf::Message& message);

// {"code": "NOT_FOUND", "error": "..."} for a failed call.
std::string StatusJson(const grpc::Status& status);

// "NOT_FOUND: jobs/9 does not exist" ("NOT_FOUND" without a message).
std::string DescribeStatus(const grpc::Status& status);

}  // namespace edbp::client

#endif  // EDBP_CLIENT_COMMON_JSON_H_

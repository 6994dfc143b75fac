// JSON renderings of the public API's messages and of failed calls, one definition for
// every client: `edbp-client --output json` and the dashboard's page and API.
#ifndef EDBP_CLIENT_COMMON_JSON_H_
#define EDBP_CLIENT_COMMON_JSON_H_

#include <string>

#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace edbp::client {

// The message as one line of JSON: proto field names, every field present, enums by
// name, as protobuf's JSON mapping writes it but for two things (issue 19, one
// vocabulary with edbp-train --metrics-jsonl): 64-bit integers are JSON numbers, not
// strings (a reader that keeps them exact needs 64-bit integers: JavaScript's Number
// is exact up to 2^53), and a best_test_accuracy below 0 (the API's "none yet") is
// null. Keys in the
// message's field order.
std::string ToJson(const google::protobuf::Message& message);

// {"code": "NOT_FOUND", "error": "..."} for a failed call.
std::string StatusJson(const grpc::Status& status);

// "NOT_FOUND: jobs/9 does not exist" ("NOT_FOUND" without a message).
std::string DescribeStatus(const grpc::Status& status);

}  // namespace edbp::client

#endif  // EDBP_CLIENT_COMMON_JSON_H_

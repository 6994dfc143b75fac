#include "client/common/json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace edbp::client {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string text;
  // Printing a well-formed message cannot fail (no Any fields in the API).
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) return "{}";
  return text;
}

std::string DescribeStatus(const grpc::Status& status) {
  std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  if (status.error_message().empty()) return code;
  return absl::StrCat(code, ": ", status.error_message());
}

std::string StatusJson(const grpc::Status& status) {
  const nlohmann::json doc = {
      {"code",
       absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
      {"error", status.error_message()}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace edbp::client

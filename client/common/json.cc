#include "client/common/json.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace edbp::client {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// One value of `field` in protobuf's JSON, rewritten as ToJson promises (json.h).
void FixValue(const FieldDescriptor* field, nlohmann::ordered_json& value);

// Every field of a message of type `type` in `doc` (an object; anything else is left
// as it is: well-known types print as strings).
void FixMessage(const Descriptor* type, nlohmann::ordered_json& doc) {
  if (!doc.is_object() || type->full_name().starts_with("google.protobuf.")) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    const auto it = doc.find(field->name());  // preserve_proto_field_names
    if (it == doc.end()) continue;
    if (field->is_map()) {
      if (!it->is_object()) continue;
      const FieldDescriptor* mapped = field->message_type()->map_value();
      for (nlohmann::ordered_json& entry : *it) FixValue(mapped, entry);  // the values
    } else if (field->is_repeated()) {
      if (!it->is_array()) continue;
      for (nlohmann::ordered_json& entry : *it) FixValue(field, entry);
    } else {
      FixValue(field, *it);
    }
  }
}

void FixValue(const FieldDescriptor* field, nlohmann::ordered_json& value) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t n = 0;
      if (value.is_string() && absl::SimpleAtoi(value.get<std::string>(), &n)) value = n;
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t n = 0;
      if (value.is_string() && absl::SimpleAtoi(value.get<std::string>(), &n)) value = n;
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
      // The API's "none yet" for a best accuracy is -1.
      if (field->name() == "best_test_accuracy" && value.is_number() &&
          value.get<double>() < 0) {
        value = nullptr;
      }
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      FixMessage(field->message_type(), value);
      break;
    default:
      break;
  }
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string text;
  // Printing a well-formed message cannot fail (no Any fields in the API).
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) return "{}";
  nlohmann::ordered_json doc =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return text;
  FixMessage(message.GetDescriptor(), doc);
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
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

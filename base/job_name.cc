#include "base/job_name.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace edbp {

std::string JobName(absl::string_view id) { return absl::StrCat(kJobNamePrefix, id); }

std::string JobName(int64_t id) { return absl::StrCat(kJobNamePrefix, id); }

bool IsJobId(absl::string_view id) {
  int64_t number = 0;
  return !id.empty() && id.size() <= 19 &&
         id.find_first_not_of("0123456789") == id.npos && absl::SimpleAtoi(id, &number);
}

absl::StatusOr<std::string> JobIdFromName(absl::string_view name) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, kJobNamePrefix) || !IsJobId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid job name \"", name, "\": expected \"jobs/{id}\", id decimal"));
  }
  return std::string(id);
}

absl::StatusOr<std::string> JobNameFromUserText(absl::string_view text) {
  absl::string_view id = text;
  absl::ConsumePrefix(&id, kJobNamePrefix);
  if (!IsJobId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid job '", text, "': expected an id (17) or a name (jobs/17)"));
  }
  return JobName(id);
}

absl::string_view ShortJobId(absl::string_view name) {
  absl::ConsumePrefix(&name, kJobNamePrefix);
  return name;
}

}  // namespace edbp

// The public name of a job, "jobs/{id}" (id: the job store's decimal row id), built and
// read here only: by edbp-server (store, hub, services), edbp-train (its reports) and
// edbp-client (arguments, tables, the dashboard's URLs).
#ifndef EDBP_BASE_JOB_NAME_H_
#define EDBP_BASE_JOB_NAME_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edbp {

inline constexpr absl::string_view kJobNamePrefix = "jobs/";

// "jobs/{id}". `id` is not checked: it comes from the store or from IsJobId text.
std::string JobName(absl::string_view id);
std::string JobName(int64_t id);

// True for an id as the store makes them: 1 to 19 decimal digits, at most INT64_MAX.
bool IsJobId(absl::string_view id);

// The id of "jobs/{id}". Anything else is INVALID_ARGUMENT:
//   invalid job name "NAME": expected "jobs/{id}", id decimal
absl::StatusOr<std::string> JobIdFromName(absl::string_view name);

// A job as a user may write it, "17" or "jobs/17", as its name "jobs/17"; anything else
// is INVALID_ARGUMENT: invalid job 'TEXT': expected an id (17) or a name (jobs/17)
absl::StatusOr<std::string> JobNameFromUserText(absl::string_view text);

// For display: "17" for "jobs/17"; a text without the prefix is returned as it is.
absl::string_view ShortJobId(absl::string_view name);

}  // namespace edbp

#endif  // EDBP_BASE_JOB_NAME_H_

// What a CreateJobRequest may hold, checked before anything else reads it: sizes that
// bound what one request costs the server (and every client that lists the job later:
// a name of megabytes breaks ListJobs for all), valid UTF-8, and no control characters
// in names (printed by `edbp-client list`/`get`, they could rewrite the user's terminal).
// Errors are INVALID_ARGUMENT naming the field, e.g.
//   "display_name: 3900000 bytes, more than the limit of 256"
//   "display_name: control character U+001B at byte 4"
//   "config_yaml: not valid UTF-8 at byte 120"
#ifndef EDBP_SERVER_REQUEST_LIMITS_H_
#define EDBP_SERVER_REQUEST_LIMITS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "edbp/v1/training_service.pb.h"

namespace edbp::server {

inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;  // 1 MiB of YAML
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr size_t kMaxInitFromBytes = 64;  // "jobs/<19 digits>:last"

// The strings of a CreateJobRequest, by the limits above (base/text_check.h).
absl::Status CheckCreateJobRequest(const v1::CreateJobRequest& request);
// ListJobsRequest.display_name, as CreateJobRequest's.
absl::Status CheckListJobsRequest(const v1::ListJobsRequest& request);

}  // namespace edbp::server

#endif  // EDBP_SERVER_REQUEST_LIMITS_H_

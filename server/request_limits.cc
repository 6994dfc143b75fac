#include "server/request_limits.h"

#include "base/text_check.h"

namespace edbp::server {

absl::Status CheckCreateJobRequest(const v1::CreateJobRequest& request) {
  if (absl::Status s = CheckText("config_yaml", request.config_yaml(), kMaxConfigBytes,
                                 /*multi_line=*/true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText("display_name", request.display_name(),
                                 kMaxDisplayNameBytes, /*multi_line=*/false);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText("init_from", request.init_from(), kMaxInitFromBytes,
                                 /*multi_line=*/false);
      !s.ok()) {
    return s;
  }
  return CheckText("request_id", request.request_id(), kMaxRequestIdBytes,
                   /*multi_line=*/false);
}

absl::Status CheckListJobsRequest(const v1::ListJobsRequest& request) {
  return CheckText("display_name", request.display_name(), kMaxDisplayNameBytes,
                   /*multi_line=*/false);
}

}  // namespace edbp::server

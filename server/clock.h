// The time stamped on jobs (create, start, end) and on their events, to the
// microsecond. protobuf 3.21's TimeUtil::GetCurrentTime (Debian 12's) fills whole
// seconds only: two jobs started within one second had equal start times, so their
// order was lost (and ServerTest.HigherPriorityRunsFirst failed whenever both tiny jobs
// started in the same second).
#ifndef EDBP_SERVER_CLOCK_H_
#define EDBP_SERVER_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace edbp::server {

inline google::protobuf::Timestamp Now() {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(absl::Now()));
}

}  // namespace edbp::server

#endif  // EDBP_SERVER_CLOCK_H_

// Job and event times are stamped to the microsecond (server/clock.h), not to the
// second as protobuf 3.21's TimeUtil::GetCurrentTime does.
#include "server/clock.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "gtest/gtest.h"

namespace edbp::server {
namespace {

int64_t Micros(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::TimestampToMicroseconds(t);
}

TEST(ServerClock, TellsApartTwoMomentsAFewMillisecondsApart) {
  const google::protobuf::Timestamp a = Now();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  const google::protobuf::Timestamp b = Now();
  // At whole seconds the difference would be 0 or 1,000,000.
  EXPECT_GE(Micros(b) - Micros(a), 3000);
  EXPECT_LT(Micros(b) - Micros(a), 900000);
  EXPECT_EQ(a.nanos() % 1000, 0);  // microseconds, as the store keeps them
}

TEST(ServerClock, IsTheWallClock) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t stamped = Now().seconds();
  EXPECT_LE(std::llabs(stamped - now), 2);
}

}  // namespace
}  // namespace edbp::server

// Shared by the dashboard's tests: fast options and a busy port.
#ifndef EDBP_TESTS_UNIT_DASHBOARD_DASHBOARD_TEST_UTIL_H_
#define EDBP_TESTS_UNIT_DASHBOARD_DASHBOARD_TEST_UTIL_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/time/time.h"
#include "client/common/job_stream.h"
#include "gtest/gtest.h"

namespace edbp::dashboard::testing {

inline client::Backoff FastBackoff() {
  return {absl::Milliseconds(20), absl::Milliseconds(100)};
}

// A socket listening on 127.0.0.1:<port> until destruction.
class BusyPort {
 public:
  BusyPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~BusyPort() { close(fd_); }
  BusyPort(const BusyPort&) = delete;
  BusyPort& operator=(const BusyPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace edbp::dashboard::testing

#endif  // EDBP_TESTS_UNIT_DASHBOARD_DASHBOARD_TEST_UTIL_H_

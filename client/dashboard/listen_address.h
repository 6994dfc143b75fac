// The address the dashboard's HTTP server binds: --listen HOST:PORT.
#ifndef EDBP_CLIENT_DASHBOARD_LISTEN_ADDRESS_H_
#define EDBP_CLIENT_DASHBOARD_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edbp::dashboard {

struct ListenAddress {
  std::string host;       // an IPv4 or IPv6 literal (no brackets), or "localhost"
  int port = 0;           // 0: any free port
  bool loopback = false;  // 127.0.0.0/8, ::1 or localhost

  // "127.0.0.1:8080", "[::1]:8080".
  std::string ToString() const;
};

// Parses "HOST:PORT": HOST is an IPv4 literal, a bracketed IPv6 literal ("[::1]") or
// "localhost"; PORT is 0..65535. Errors are INVALID_ARGUMENT saying what was expected.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_LISTEN_ADDRESS_H_

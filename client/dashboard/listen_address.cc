#include "client/dashboard/listen_address.h"

#include <arpa/inet.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace edbp::dashboard {

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --listen '", text, "': ", why,
        " (expected HOST:PORT, e.g. 127.0.0.1:8080, [::1]:8080 or localhost:0)"));
  };
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return invalid("no port");
  absl::string_view host = text.substr(0, colon);
  const absl::string_view port_text = text.substr(colon + 1);
  uint32_t port = 0;
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != port_text.npos ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return invalid("the port must be a number from 0 to 65535");
  }
  ListenAddress address;
  address.port = static_cast<int>(port);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
      return invalid("not an IPv6 address");
    }
    address.loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else if (host == "localhost") {
    address.loopback = true;
  } else {
    in_addr v4{};
    if (host.empty()) return invalid("no host");
    if (host.find(':') != absl::string_view::npos) {
      return invalid("an IPv6 host must be in brackets");
    }
    if (inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1) {
      return invalid("the host must be an IP address or localhost");
    }
    address.loopback = (ntohl(v4.s_addr) >> 24) == 127;
  }
  address.host = std::string(host);
  return address;
}

}  // namespace edbp::dashboard

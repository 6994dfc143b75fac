#include "client/dashboard/listen_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::dashboard {
namespace {

using ::testing::HasSubstr;

TEST(ListenAddressTest, ParsesIpv4Ipv6AndLocalhost) {
  absl::StatusOr<ListenAddress> a = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_TRUE(a->loopback);
  EXPECT_EQ(a->ToString(), "127.0.0.1:8080");

  a = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 0);
  EXPECT_TRUE(a->loopback);
  EXPECT_EQ(a->ToString(), "[::1]:0");

  a = ParseListenAddress("localhost:65535");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->loopback);
  EXPECT_EQ(a->port, 65535);

  a = ParseListenAddress("127.8.9.10:1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->loopback);
}

TEST(ListenAddressTest, OtherAddressesAreNotLoopback) {
  absl::StatusOr<ListenAddress> a = ParseListenAddress("0.0.0.0:8080");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->loopback);
  a = ParseListenAddress("[::]:8080");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->loopback);
  a = ParseListenAddress("192.168.1.4:80");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->loopback);
}

TEST(ListenAddressTest, RejectsMalformedAddressesSayingWhy) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c :
       {Case{"8080", "no port"}, Case{"127.0.0.1:", "the port must be"},
        Case{"127.0.0.1:65536", "the port must be"},
        Case{"127.0.0.1:-1", "the port must be"},
        Case{"127.0.0.1:80x", "the port must be"}, Case{":8080", "no host"},
        Case{"example.com:80", "must be an IP address or localhost"},
        Case{"1.2.3:80", "must be an IP address or localhost"},
        Case{"::1:80", "IPv6 host must be in brackets"},
        Case{"[zz::1]:80", "not an IPv6 address"}}) {
    const absl::StatusOr<ListenAddress> a = ParseListenAddress(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(a.status().message()), HasSubstr(c.why)) << c.text;
    EXPECT_THAT(std::string(a.status().message()), HasSubstr(c.text));
  }
}

}  // namespace
}  // namespace edbp::dashboard

// The limits of a CreateJobRequest (server/request_limits.h), on hostile strings.
#include "server/request_limits.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::server {
namespace {

using ::testing::HasSubstr;

absl::Status Check(const std::string& config, const std::string& name,
                   const std::string& request_id) {
  v1::CreateJobRequest request;
  request.set_config_yaml(config);
  request.set_display_name(name);
  request.set_request_id(request_id);
  return CheckCreateJobRequest(request);
}

constexpr char kConfig[] = "Network:\n\tepochs: 3\r\n";  // tab, CR, LF are fine here

TEST(RequestLimits, OrdinaryRequestsPass) {
  EXPECT_TRUE(Check(kConfig, "", "").ok());
  EXPECT_TRUE(Check(kConfig, "mnist", "0b3c4f6e-9f1a-4c2e-8d7b-1a2b3c4d5e6f").ok());
  EXPECT_TRUE(Check(kConfig, "Ölçüm — 测试 🚀", "r").ok());  // 2-, 3- and 4-byte UTF-8
  EXPECT_TRUE(Check(std::string(kMaxConfigBytes, 'a'), std::string(256, 'n'),
                    std::string(128, 'r'))
                  .ok());  // every limit exactly
}

TEST(RequestLimits, SizesAboveTheLimitsNameTheField) {
  absl::Status s = Check(kConfig, std::string(3900000, 'n'), "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "display_name: 3900000 bytes, more than the limit of 256");
  s = Check(kConfig, "", std::string(129, 'r'));
  EXPECT_EQ(s.message(), "request_id: 129 bytes, more than the limit of 128");
  s = Check(std::string(kMaxConfigBytes + 1, 'a'), "", "");
  EXPECT_EQ(s.message(), "config_yaml: 1048577 bytes, more than the limit of 1048576");
}

TEST(RequestLimits, ControlCharactersInNamesAreRefused) {
  // An escape sequence that would clear the terminal of whoever lists the jobs.
  absl::Status s = Check(kConfig, "job\x1b[2J", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "display_name: control character U+001B at byte 3");
  EXPECT_THAT(Check(kConfig, "a\nb", "").message(), HasSubstr("U+000A at byte 1"));
  EXPECT_THAT(Check(kConfig, "", "id\tx").message(),
              HasSubstr("request_id: control character U+0009"));
  EXPECT_THAT(Check(kConfig, "\x7f", "").message(), HasSubstr("U+007F"));
  EXPECT_THAT(Check(kConfig, "\xc2\x9b", "").message(), HasSubstr("U+009B"));  // C1 CSI
  EXPECT_THAT(Check(std::string("a: 1\n\0", 6), "", "").message(),
              HasSubstr("config_yaml: control character U+0000 at byte 5"));
}

TEST(RequestLimits, InvalidUtf8IsRefusedWithItsOffset) {
  for (const std::string& bad : {std::string("\xff"), std::string("ab\x80"),
                                 std::string("\xc0\xaf"),          // overlong '/'
                                 std::string("\xed\xa0\x80"),      // a surrogate
                                 std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
                                 std::string("x\xe2\x82")}) {      // truncated
    const absl::Status s = Check(kConfig, bad, "");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("display_name: not valid UTF-8 at byte ")) << bad;
  }
  EXPECT_EQ(Check("Network: \xff\n", "", "").message(),
            "config_yaml: not valid UTF-8 at byte 9");
}

}  // namespace
}  // namespace edbp::server

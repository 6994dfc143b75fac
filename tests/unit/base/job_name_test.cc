// base/job_name.h: the one spelling of "jobs/{id}", with hostile texts.
#include "base/job_name.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp {
namespace {

using ::testing::HasSubstr;

TEST(JobNameTest, BuildsTheName) {
  EXPECT_EQ(JobName("12"), "jobs/12");
  EXPECT_EQ(JobName(int64_t{9223372036854775807}), "jobs/9223372036854775807");
  EXPECT_EQ(JobName(int64_t{1}), "jobs/1");
}

TEST(JobNameTest, IdsAreOneToNineteenDigitsWithinInt64) {
  for (const char* good : {"0", "1", "17", "007", "9223372036854775807"}) {
    EXPECT_TRUE(IsJobId(good)) << good;
  }
  for (const char* bad : {"", "x", "1x", "-1", "+1", " 1", "1 ", "1.0",
                          "9223372036854775808", "99999999999999999999", "0x10"}) {
    EXPECT_FALSE(IsJobId(bad)) << bad;
  }
  EXPECT_FALSE(
      IsJobId(std::string("1\0"
                          "2",
                          3)));
  EXPECT_FALSE(IsJobId(std::string(100000, '7')));  // huge: rejected, nothing allocated
}

TEST(JobNameTest, JobIdFromNameParsesJobsSlashDigits) {
  const absl::StatusOr<std::string> id = JobIdFromName("jobs/12");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "12");
  for (const char* bad :
       {"job/1", "jobs/", "jobs/x", "jobs/1x", "jobs/-1", "", "12", "jobs/12/", "JOBS/12",
        "jobs//12", "jobs/99999999999999999999"}) {
    const absl::Status status = JobIdFromName(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(status.message(), absl::StrCat("invalid job name \"", bad,
                                             "\": expected \"jobs/{id}\", id decimal"))
        << bad;
  }
}

TEST(JobNameTest, UserTextIsAnIdOrAName) {
  for (const char* text : {"17", "jobs/17"}) {
    const absl::StatusOr<std::string> name = JobNameFromUserText(text);
    ASSERT_TRUE(name.ok()) << text;
    EXPECT_EQ(*name, "jobs/17");
  }
  for (const char* bad :
       {"", "jobs/", "job/17", "17x", "jobs/jobs/17", "-3", "123456789012345678901"}) {
    const absl::Status status = JobNameFromUserText(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("invalid job '", bad, "'")));
    EXPECT_THAT(status.message(), HasSubstr("expected an id (17) or a name (jobs/17)"));
  }
}

TEST(JobNameTest, ShortIdForDisplay) {
  EXPECT_EQ(ShortJobId("jobs/17"), "17");
  EXPECT_EQ(ShortJobId("17"), "17");
  EXPECT_EQ(ShortJobId("other/3"), "other/3");
  EXPECT_EQ(ShortJobId(""), "");
}

}  // namespace
}  // namespace edbp

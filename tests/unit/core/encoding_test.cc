// TTFS encoding (ALGORITHM.md §6) by hand.
#include "core/encoding.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EncodeTtfs, OneSpikeAtTruncatedTime) {
  // 1x2x2 sample 0,1,2,3: lo 0, hi 3, T 4 → k = trunc(x/3·4) = 0, 1, 2, 4→3.
  const std::vector<float> x = {0, 1, 2, 3};
  std::vector<float> out(4 * 4, -1);
  ASSERT_TRUE(EncodeTtfs(x, 1, 4, out).ok());
  EXPECT_THAT(out, ElementsAre(1, 0, 0, 0,    // t = 0: the darkest pixel
                               0, 1, 0, 0,    // t = 1
                               0, 0, 1, 0,    // t = 2
                               0, 0, 0, 1));  // t = 3: the brightest fires last
}

TEST(EncodeTtfs, BatchIsTimeMajorAndPerSample) {
  // Sample 1 is sample 0 shifted and scaled: lo/hi are per sample, so same spikes.
  const std::vector<float> x = {0, 1, 2, 3, -1, 1, 3, 5};
  std::vector<float> out(4 * 2 * 4);
  ASSERT_TRUE(EncodeTtfs(x, 2, 4, out).ok());
  for (int t = 0; t < 4; ++t) {
    for (int b = 0; b < 2; ++b) {
      for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(out[(t * 2 + b) * 4 + i], i == t ? 1.0f : 0.0f) << t << b << i;
      }
    }
  }
}

TEST(EncodeTtfs, ConstantSampleIsAnErrorNamingIt) {
  const std::vector<float> x = {0, 1, 2, 3, 0.5f, 0.5f, 0.5f, 0.5f};
  std::vector<float> out(3 * 8);
  const absl::Status s = EncodeTtfs(x, 2, 3, out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("sample 1"));
  EXPECT_THAT(s.message(), HasSubstr("constant"));
}

TEST(EncodeTtfs, SizeMismatchIsAnError) {
  const std::vector<float> x = {0, 1, 2, 3};
  std::vector<float> out(7);
  EXPECT_EQ(EncodeTtfs(x, 1, 2, out).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edbp

// Label injection (ALGORITHM.md §5) and readout (§9) on hand-made outputs.
#include <vector>

#include "absl/status/status.h"
#include "core/readout.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "tests/test_util.h"

namespace edbp {
namespace {

using testing::Cpu;

// T = 4, B = 3, C = 2; labels (1, 0, 1).
// Sample 0, class 1: du = (0.3, 0.01, 0.06, -0.2) → last t with du > 0.05 is 2;
//   o[2,0,1] = (du != 0) = 1.
// Sample 1, class 0: du = (0.01, 0.05, 0.0, 0.02) → none > 0.05 → t* = 0,
//   o[0,1,0] = (0.01 != 0) = 1.
// Sample 2, class 1: du = (0, 0, 0, 0) → t* = 0, o[0,2,1] = (0 != 0) = 0 even though
//   it was 1 (the injection can remove a spike).
TEST(LabelInject, ByHand) {
  const int64_t T = 4, B = 3, C = 2;
  std::vector<float> du(T * B * C, 0.0f);
  auto at = [&](int64_t t, int64_t b, int64_t c) { return (t * B + b) * C + c; };
  const float s0[] = {0.3f, 0.01f, 0.06f, -0.2f};
  const float s1[] = {0.01f, 0.05f, 0.0f, 0.02f};
  for (int t = 0; t < T; ++t) {
    du[at(t, 0, 1)] = s0[t];
    du[at(t, 1, 0)] = s1[t];
    du[at(t, 0, 0)] = 1.0f;  // other classes are never touched
  }
  std::vector<float> o(T * B * C, 0.0f);
  o[at(0, 2, 1)] = 1.0f;
  o[at(3, 0, 0)] = 1.0f;
  const std::vector<int32_t> labels = {1, 0, 1};
  std::vector<float> expected = o;
  expected[at(2, 0, 1)] = 1.0f;
  expected[at(0, 1, 0)] = 1.0f;
  expected[at(0, 2, 1)] = 0.0f;
  ASSERT_TRUE(Cpu()
                  ->LabelInject({.steps = T,
                                 .batch = B,
                                 .classes = C,
                                 .du = du.data(),
                                 .labels = labels.data(),
                                 .o = o.data()})
                  .ok());
  EXPECT_EQ(o, expected);
}

// A label outside [0, classes) comes from a data set, not from our code: a Status in
// every backend (the same message as CUDA's, tests/gpu/ops_test.cc), and `o` untouched.
TEST(LabelInject, ALabelOutsideTheClassesIsInvalidArgument) {
  const int64_t T = 2, B = 2, C = 3;
  const std::vector<float> du(T * B * C, 0.5f);
  for (const int32_t bad : {-1, 3, 1 << 30}) {
    std::vector<float> o(T * B * C, 0.0f);
    const std::vector<int32_t> labels = {1, bad};
    const absl::Status s = Cpu()->LabelInject({.steps = T,
                                               .batch = B,
                                               .classes = C,
                                               .du = du.data(),
                                               .labels = labels.data(),
                                               .o = o.data()});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(), "LabelInject: a label lies outside [0, 3) (ALGORITHM.md §5)");
    EXPECT_EQ(o, std::vector<float>(T * B * C, 0.0f)) << "label " << bad;
  }
}

// Weights for T = 5: 1.1 - t/50 = 1.1, 1.08, 1.06, 1.04, 1.02 (float32).
TEST(Readout, WeightsFavourEarlySpikes) {
  const int64_t T = 5, B = 3, C = 3;
  std::vector<float> o(T * B * C, 0.0f);
  auto at = [&](int64_t t, int64_t b, int64_t c) { return (t * B + b) * C + c; };
  // Sample 0: class 0 spikes at t=4, class 2 at t=0 → class 2 (1.1 > 1.02).
  o[at(4, 0, 0)] = 1;
  o[at(0, 0, 2)] = 1;
  // Sample 1: class 1 twice (t=3,4: 2.06), class 2 once at t=0 (1.1) → class 1.
  o[at(3, 1, 1)] = 1;
  o[at(4, 1, 1)] = 1;
  o[at(0, 1, 2)] = 1;
  // Sample 2: classes 1 and 2 both spike at t=1 → exact tie → lowest class, 1.
  o[at(1, 2, 1)] = 1;
  o[at(1, 2, 2)] = 1;
  const std::vector<float> counts = WeightedCounts(o, T, B, C);
  EXPECT_FLOAT_EQ(counts[0 * C + 0], 1.02f);
  EXPECT_FLOAT_EQ(counts[0 * C + 2], 1.1f);
  EXPECT_FLOAT_EQ(counts[1 * C + 1], 1.04f + 1.02f);
  EXPECT_EQ(Predict(o, T, B, C), (std::vector<int32_t>{2, 1, 1}));
  // No spikes at all: every count is 0, the tie goes to class 0.
  EXPECT_EQ(Predict(std::vector<float>(T * C, 0.0f), T, 1, C), (std::vector<int32_t>{0}));
}

}  // namespace
}  // namespace edbp

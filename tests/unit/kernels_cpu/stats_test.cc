// Reductions for the training statistics, on hand values.
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels::cpu {
namespace {

TEST(ReduceStats, HandValues) {
  const std::vector<float> x = {1.0f, -3.0f, 0.5f, 2.0f};
  ReduceStatsResult r;
  ReduceStats({.n = 4, .x = x.data(), .result = &r});
  EXPECT_DOUBLE_EQ(r.sum, 0.5);
  EXPECT_DOUBLE_EQ(r.sum_sq, 1 + 9 + 0.25 + 4);
  EXPECT_DOUBLE_EQ(r.max_abs, 3.0);
  ReduceStats({.n = 0, .x = x.data(), .result = &r});
  EXPECT_EQ(r.sum, 0.0);
  EXPECT_EQ(r.max_abs, 0.0);
}

TEST(ReduceStats, ManyBlocksMatchADoubleLoop) {
  std::vector<float> x(100003);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>((static_cast<int>(i * 7919 % 201) - 100) * 0.01);
  }
  x[77777] = -5.5f;
  double sum = 0, sq = 0;
  for (float v : x) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  ReduceStatsResult r;
  ReduceStats({.n = static_cast<int64_t>(x.size()), .x = x.data(), .result = &r});
  EXPECT_NEAR(r.sum, sum, 1e-9 * std::fabs(sq));
  EXPECT_NEAR(r.sum_sq, sq, 1e-12 * sq);
  EXPECT_EQ(r.max_abs, 5.5);
}

// o [rows = T·B = 3, neurons = 4]; counts accumulate across calls.
TEST(SpikeCount, AccumulatesPerNeuron) {
  const std::vector<float> o = {1, 0, 0, 1,  //
                                1, 0, 1, 0,  //
                                0, 0, 1, 1};
  std::vector<float> counts = {10, 0, 0, 0};
  SpikeCount({.rows = 3, .neurons = 4, .o = o.data(), .counts = counts.data()});
  EXPECT_EQ(counts, (std::vector<float>{12, 0, 2, 2}));
  SpikeCount({.rows = 1, .neurons = 4, .o = o.data(), .counts = counts.data()});
  EXPECT_EQ(counts, (std::vector<float>{13, 0, 2, 3}));
}

}  // namespace
}  // namespace edbp::kernels::cpu

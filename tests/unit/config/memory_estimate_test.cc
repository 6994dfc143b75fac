// The training-memory estimate of a config (core/config/memory_estimate.h), derived here
// by hand for configs/small.yaml, and hostile sizes that must neither overflow nor pass.
#include "core/config/memory_estimate.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::config {
namespace {

using ::testing::HasSubstr;

TEST(MemoryEstimate, SmallConfigByHand) {
  absl::StatusOr<Config> c = LoadConfigFile("configs/small.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  // Outputs per sample and step: conv_1 15x24x24 = 8640, pooling_1 15x12x12 = 2160,
  // conv_2 40x8x8 = 2560, pooling_2 40x4x4 = 640, FC_1 300, output 10: 14310; the input
  // 1x28x28 = 784. Floats: 784 + 4 x 14310 = 58024, times T = 5 and batch 50.
  const MemoryEstimate e = EstimateTrainingMemory(*c);
  EXPECT_EQ(e.activation_bytes, 4.0 * 5 * 50 * 58024);
  // Weights, gains and biases: conv_1 15x1x25 + 30, conv_2 40x15x25 + 80,
  // FC_1 300x640 + 600, output 10x300 + 20 = 211105; 16 bytes each.
  EXPECT_EQ(e.parameter_bytes, 16.0 * 211105);
  EXPECT_EQ(e.total_bytes(), 61401680.0);
  EXPECT_THAT(e.ToString(*c), HasSubstr("T = 5 x batch_size 50"));
}

TEST(MemoryEstimate, HugeTimeStepsAndBatchesStayFiniteAndLarge) {
  absl::StatusOr<Config> c = LoadConfigFile("configs/small.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  c->network.n_steps = c->network.t_train = 10000000;  // issue 17: passed validation
  c->network.batch_size = int64_t{1} << 40;
  const MemoryEstimate e = EstimateTrainingMemory(*c);
  EXPECT_TRUE(std::isfinite(e.total_bytes()));
  EXPECT_GT(e.total_bytes(), 1e24);
}

}  // namespace
}  // namespace edbp::config

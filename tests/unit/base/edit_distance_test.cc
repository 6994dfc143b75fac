#include "base/edit_distance.h"

#include <vector>

#include "gtest/gtest.h"

namespace edbp {
namespace {

TEST(EditDistanceTest, CountsEditsIgnoringCase) {
  EXPECT_EQ(EditDistance("", ""), 0);
  EXPECT_EQ(EditDistance("lr", ""), 2);
  EXPECT_EQ(EditDistance("kernal_size", "kernel_size"), 1);  // substitution
  EXPECT_EQ(EditDistance("tau_gard", "tau_grad"), 1);        // adjacent swap
  EXPECT_EQ(EditDistance("n_step", "n_steps"), 1);           // insertion
  EXPECT_EQ(EditDistance("adamw", "AdamW"), 0);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
}

TEST(EditDistanceTest, ClosestMatchOnlyWhenPlausible) {
  const std::vector<absl::string_view> keys = {"type", "kernel_size", "stride",
                                               "padding"};
  EXPECT_EQ(ClosestMatch("kernal_size", keys), "kernel_size");
  EXPECT_EQ(ClosestMatch("strid", keys), "stride");
  EXPECT_EQ(ClosestMatch("threshold", keys), std::nullopt);
  EXPECT_EQ(ClosestMatch("x", keys), std::nullopt);
}

}  // namespace
}  // namespace edbp

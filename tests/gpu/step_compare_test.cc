// The GPU train test's decision (step_compare.h) on synthetic CPU/GPU steps: what a
// correct backend produces passes, what a wrong one produces fails. Runs without a GPU.
#include "tests/gpu/step_compare.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::gpu_test {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kSteps = 5;

// A step of T = 5, batch 10, 10 classes with random spikes and two gradients.
SafeTensors Step(uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution spike(0.3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  SafeTensors s;
  for (const char* key : {"outputs", "outputs_raw"}) {
    std::vector<float> o(kSteps * 10 * 10);
    for (float& v : o) v = spike(rng) ? 1.0f : 0.0f;
    s.tensors[key] = {{kSteps, 10, 10}, o};
  }
  s.tensors["loss"] = {{1}, {12.5f}};
  for (const char* key : {"net.0.weight.grad", "net.1.weight.grad"}) {
    std::vector<float> g(4000);
    for (float& v : g) v = normal(rng);
    s.tensors[key] = {{4000}, g};
  }
  return s;
}

StepComparison Compare(const SafeTensors& cpu, const SafeTensors& gpu) {
  return CompareInspectSteps(cpu, gpu, CountLossPerFlip(kSteps));
}

TEST(StepCompare, IdenticalStepsAgree) {
  const StepComparison r = Compare(Step(1), Step(1));
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.output_flips, 0);
  EXPECT_EQ(r.grads, 2);
  EXPECT_EQ(r.grads_within_l2_only, 0);
}

TEST(StepCompare, RoundingOfTheSumsPassesTheStrictCheck) {
  SafeTensors gpu = Step(1);
  for (float& v : gpu.tensors["net.0.weight.grad"].data) v *= 1.0f + 3e-6f;
  const StepComparison r = Compare(Step(1), gpu);
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.grads_within_l2_only, 0);
}

TEST(StepCompare, AnOutputFlipMayMoveTheLossByItsBound) {
  SafeTensors gpu = Step(1);
  float& o = gpu.tensors["outputs"].data[7];
  o = o == 0.0f ? 1.0f : 0.0f;
  gpu.tensors["loss"].data[0] += 1.05f;  // within 1 + 1/(2T) = 1.1
  StepComparison r = Compare(Step(1), gpu);
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.injected_flips, 1);

  gpu.tensors["loss"].data[0] += 0.2f;  // 1.25: more than one flip can do
  r = Compare(Step(1), gpu);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("loss:"));
}

TEST(StepCompare, WithoutOutputFlipsTheLossKeepsItsStrictTolerance) {
  SafeTensors gpu = Step(1);
  gpu.tensors["loss"].data[0] += 0.01f;  // 1e-5 · 12.5 allowed
  const StepComparison r = Compare(Step(1), gpu);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("loss:"));
}

TEST(StepCompare, AHiddenFlipsSmallShiftPassesByTheL2Bound) {
  // No output spike differs, yet every gradient above a flipped hidden spike moves by
  // about 1e-3 of its norm: the old test failed this correct backend.
  SafeTensors gpu = Step(1);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  for (float& v : gpu.tensors["net.1.weight.grad"].data) v += normal(rng);
  const StepComparison r = Compare(Step(1), gpu);
  EXPECT_TRUE(r.failures.empty()) << r.failures[0];
  EXPECT_EQ(r.output_flips, 0);
  EXPECT_EQ(r.grads_within_l2_only, 1);
}

TEST(StepCompare, AWrongGradientFails) {
  SafeTensors gpu = Step(1);
  for (float& v : gpu.tensors["net.0.weight.grad"].data) v *= 1.05f;  // 5 %
  StepComparison r = Compare(Step(1), gpu);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("net.0.weight.grad"));

  gpu = Step(1);
  gpu.tensors["net.1.weight.grad"].data[3] = NAN;
  r = Compare(Step(1), gpu);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_THAT(r.failures[0], HasSubstr("net.1.weight.grad"));
}

TEST(StepCompare, TooManyOutputFlipsFail) {
  SafeTensors gpu = Step(1);
  std::vector<float>& o = gpu.tensors["outputs_raw"].data;
  for (int i = 0; i < 3; ++i) o[i] = o[i] == 0.0f ? 1.0f : 0.0f;  // 3 of 1000 > 0.1 %
  const StepComparison r = Compare(Step(1), gpu);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_THAT(r.failures[0], HasSubstr("spikes differ"));
}

TEST(StepCompare, MissingOrMisshapenTensorsFail) {
  SafeTensors gpu = Step(1);
  gpu.tensors.erase("net.0.weight.grad");
  gpu.tensors["outputs"].data.pop_back();
  const StepComparison r = Compare(Step(1), gpu);
  EXPECT_EQ(r.failures.size(), 2u);
}

}  // namespace
}  // namespace edbp::gpu_test

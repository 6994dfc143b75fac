// ALGORITHM.md §11.1: CIFAR10-DVS's frame transforms (dvs_transform.h) on small planes
// whose expected values are worked out by hand in the comments, and the loader's
// 48x48 CIFAR10-DVS batches.
#include "core/data/dvs_transform.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/dvs.h"
#include "core/data/loader.h"
#include "core/data/transform.h"
#include "gtest/gtest.h"

namespace edbp::data {
namespace {

// A plane whose value at (y, x) is 10·y + x.
std::vector<float> Coordinates(int64_t height, int64_t width) {
  std::vector<float> p(static_cast<size_t>(height * width));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) p[y * width + x] = static_cast<float>(10 * y + x);
  }
  return p;
}

TEST(ResizeBilinear, AveragesBlocksWhenHalvingAndInterpolatesOtherwise) {
  // 4x4 -> 2x2 (scale 2): src = 2·(d + 0.5) - 0.5 = 0.5 and 2.5, weights 1/2 and 1/2,
  // so each output is the mean of a 2x2 block of 10y + x: (0+1+10+11)/4 = 5.5, ...
  const std::vector<float> in = Coordinates(4, 4);
  std::vector<float> out(4);
  ResizeBilinear(in.data(), 1, 4, 4, 2, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{5.5f, 7.5f, 25.5f, 27.5f}));
  // One row of 3 -> 2 (scale 1.5): src 0.25 and 1.75: 0.75·0 + 0.25·4 = 1 and
  // 0.25·4 + 0.75·8 = 7.
  const std::vector<float> row3 = {0, 4, 8};
  std::vector<float> row2(2);
  ResizeBilinear(row3.data(), 1, 1, 3, 1, 2, row2.data());
  EXPECT_EQ(row2, (std::vector<float>{1, 7}));
  // 2 -> 4 (scale 0.5): src -0.25 (clamped to 0), 0.25, 0.75, 1.25 (i1 clamped to 1):
  // 0, 0.75·0 + 0.25·8 = 2, 6, 8.
  const std::vector<float> two = {0, 8};
  std::vector<float> four(4);
  ResizeBilinear(two.data(), 1, 1, 2, 1, 4, four.data());
  EXPECT_EQ(four, (std::vector<float>{0, 2, 6, 8}));
  // 128x128 -> 48x48 keeps a constant plane constant, each plane on its own.
  std::vector<float> planes(2 * 128 * 128, 3.0f);
  std::fill(planes.begin() + 128 * 128, planes.end(), 1.0f);
  std::vector<float> small(2 * 48 * 48);
  Cifar10DvsTestFrames(planes.data(), 1, 2, 128, 128, small.data());
  for (int64_t k = 0; k < 48 * 48; ++k) {
    ASSERT_FLOAT_EQ(small[k], 3.0f) << k;
    ASSERT_FLOAT_EQ(small[48 * 48 + k], 1.0f) << k;
  }
}

TEST(NdaOperations, RollRotateAndCutoutMoveThePixelsWorkedOutByHand) {
  // Roll by dy = 1, dx = -1 of a 3x4 plane: out[y][x] = in[(y-1) mod 3][(x+1) mod 4].
  const std::vector<float> in = Coordinates(3, 4);
  std::vector<float> out(12);
  RollPlanes(in.data(), 1, 3, 4, 1, -1, out.data());
  EXPECT_EQ(out, (std::vector<float>{21, 22, 23, 20, 1, 2, 3, 0, 11, 12, 13, 10}));

  // 90° counter-clockwise of a 3x3 plane: the top row becomes the right column read
  // upwards, as numpy's rot90: [[2, 12, 22], [1, 11, 21], [0, 10, 20]].
  const std::vector<float> square = Coordinates(3, 3);
  std::vector<float> turned(9);
  RotatePlanesNearest(square.data(), 1, 3, 3, 90.0, turned.data());
  EXPECT_EQ(turned, (std::vector<float>{2, 12, 22, 1, 11, 21, 0, 10, 20}));
  // 0° is the identity; 180° of a 3x4 plane reverses both axes.
  RotatePlanesNearest(in.data(), 1, 3, 4, 0.0, out.data());
  EXPECT_EQ(out, in);
  RotatePlanesNearest(in.data(), 1, 3, 4, 180.0, out.data());
  EXPECT_EQ(out, (std::vector<float>{23, 22, 21, 20, 13, 12, 11, 10, 3, 2, 1, 0}));
  // 90° of a 2x4 plane (centre (1.5, 0.5)): output (x, y) reads input column
  // 2 - y... precisely (sx, sy) = (-(y - 0.5) + 1.5, (x - 1.5) + 0.5): columns 0 and 3
  // read rows -1 and 2, outside the frame, so they are 0.
  const std::vector<float> wide = Coordinates(2, 4);
  std::vector<float> rotated(8);
  RotatePlanesNearest(wide.data(), 1, 2, 4, 90.0, rotated.data());
  EXPECT_EQ(rotated, (std::vector<float>{0, 2, 12, 0, 0, 1, 11, 0}));

  // Cutout of length 4 at (cy, cx) = (1, 4) in a 5x6 plane of ones: rows
  // [max(1-2, 0), 1+2) = 0..2, columns [2, 6) = 2..5: 12 zeros, in both planes.
  std::vector<float> ones(2 * 30, 1.0f);
  CutoutPlanes(ones.data(), 2, 5, 6, 1, 4, 4);
  for (int p = 0; p < 2; ++p) {
    for (int64_t y = 0; y < 5; ++y) {
      for (int64_t x = 0; x < 6; ++x) {
        const bool cut = y <= 2 && x >= 2;
        EXPECT_EQ(ones[p * 30 + y * 6 + x], cut ? 0.0f : 1.0f)
            << p << " " << y << "," << x;
      }
    }
  }
}

TEST(DrawResizedCropBox, BoxesFitTheScaleAndAspectAndFallBackToTheWholeFrame) {
  for (uint64_t seed = 0; seed < 500; ++seed) {
    std::mt19937_64 rng(seed);
    const CropBox b = DrawResizedCropBox(128, 128, 0.7, rng);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LE(b.top + b.height, 128);
    ASSERT_LE(b.left + b.width, 128);
    // Area >= 0.7 of 128² = 11468.8 up to the rounding of each side (±0.5).
    ASSERT_GE(static_cast<double>((b.height + 1) * (b.width + 1)), 0.7 * 128 * 128);
    // Aspect within [3/4, 4/3] up to the same rounding.
    const double aspect = static_cast<double>(b.width) / static_cast<double>(b.height);
    ASSERT_GT(aspect, 0.74);
    ASSERT_LT(aspect, 1.35);
  }
  // A 1x100 frame: every box is at least sqrt(70·3/4) ≈ 7 rows high, so all 10 tries
  // fail (20 draws) and the box is the whole frame.
  std::mt19937_64 rng(7), twin(7);
  EXPECT_EQ(DrawResizedCropBox(1, 100, 0.7, rng),
            (CropBox{.top = 0, .left = 0, .height = 1, .width = 100}));
  twin.discard(20);
  EXPECT_EQ(rng(), twin());
}

TEST(Cifar10DvsTrainingFrames, OneGeometryForEveryPlaneDeterministicPerSeed) {
  // 3 frames x 2 channels of 128x128 ones: every plane of the output gets the same
  // crop, flip and NDA operation, so all six 48x48 planes are equal.
  std::vector<float> in(3 * 2 * 128 * 128, 1.0f);
  int untouched = 0, holed = 0;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    std::mt19937_64 rng(seed), again(seed);
    std::vector<float> out(3 * 2 * 48 * 48), twice(out.size());
    Cifar10DvsTrainingFrames(in.data(), 3, 2, 128, 128, rng, out.data());
    Cifar10DvsTrainingFrames(in.data(), 3, 2, 128, 128, again, twice.data());
    ASSERT_EQ(out, twice) << seed;
    for (int p = 1; p < 6; ++p) {
      ASSERT_TRUE(std::equal(out.begin(), out.begin() + 2304, out.begin() + p * 2304));
    }
    // Ones stay ones (crop, resize, flip and roll keep a constant plane), except where
    // a cutout (at most 16x16) or a rotation's corners put zeros.
    const float sum = std::accumulate(out.begin(), out.begin() + 2304, 0.0f);
    for (int64_t k = 0; k < 2304; ++k) ASSERT_TRUE(out[k] == 0.0f || out[k] == 1.0f);
    untouched += sum == 2304.0f;
    holed += sum < 2304.0f;
  }
  // Roll (1/3 of the draws) leaves the plane whole; cutout and rotation mostly not.
  EXPECT_GT(untouched, 8);
  EXPECT_GT(holed, 20);
}

TEST(Cifar10DvsTrainingFrames, TheLoaderMakes48x48FramesInTrainingAndTest) {
  // One sample: 2 frames of 2x128x128 with one event each.
  Dataset ds;
  ds.name = "CIFAR10DVS/train";
  ds.shape = {2, kDvsSide, kDvsSide};
  ds.size = 1;
  ds.frames = 2;
  ds.labels = {4};
  // Frame 0, channel 1, (64, 64): 4 events; frame 1, channel 0, (0, 0): 1 event.
  ds.frame_counts = {{static_cast<uint32_t>(128 * 128 + 64 * 128 + 64), 4},
                     {static_cast<uint32_t>(2 * 128 * 128), 1}};
  ds.frame_offsets = {0, 2};
  EXPECT_EQ(InputShapeOf(ds), (config::SampleShape{2, 48, 48}));
  EXPECT_EQ(StoredShapeFor("CIFAR10DVS", {2, 48, 48}),
            (config::SampleShape{2, 128, 128}));
  EXPECT_EQ(StoredShapeFor("NMNIST", {2, 34, 34}), (config::SampleShape{2, 34, 34}));
  BatchLoader test(ds, {.batch_size = 1});
  const Batch b = *test.Next();
  EXPECT_EQ(b.frames, 2);
  ASSERT_EQ(b.images.size(), 2u * 2 * 48 * 48);
  // Test pass: bilinear 128 -> 48 (scale 8/3), src = (d + 0.5)·8/3 - 0.5. Output 23
  // taps 62 and 63 (src 62.17), output 24 taps 64 and 65 (src 64.83, so l0 = 0.1667):
  // source 64 reaches output 24 only, with weight l0 on each axis.
  const float* c1 = b.images.data() + 48 * 48;
  const float l0 = 1.0f - (24.5f * (128.0f / 48.0f) - 0.5f - 64.0f);
  EXPECT_FLOAT_EQ(c1[24 * 48 + 24], 4.0f * l0 * l0);
  EXPECT_FLOAT_EQ(std::accumulate(c1, c1 + 48 * 48, 0.0f), 4.0f * l0 * l0);
  // (0, 0) of frame 1: output 0 has src 0.8333 (taps 0, 1), l0 = 0.1667.
  const float* f1 = b.images.data() + 2 * 48 * 48;
  const float e0 = 1.0f - (0.5f * (128.0f / 48.0f) - 0.5f);
  EXPECT_FLOAT_EQ(f1[0], e0 * e0);
  // Training: 48x48 too, the same draws for the same seed.
  BatchLoader train(ds, {.batch_size = 1, .augment = true, .seed = 5});
  BatchLoader train2(ds, {.batch_size = 1, .augment = true, .seed = 5});
  const Batch t = *train.Next();
  EXPECT_EQ(t.images.size(), 2u * 2 * 48 * 48);
  EXPECT_EQ(t.images, train2.Next()->images);
}

}  // namespace
}  // namespace edbp::data

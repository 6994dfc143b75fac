// CIFAR readers on files written in the upstream binary format, and the CIFAR training
// transform (§11): crop, flip, AutoAugment ops against hand-computed images.
#include "core/data/cifar.h"

#include <sys/stat.h>

#include <random>
#include <string>
#include <vector>

#include "core/data/augment.h"
#include "core/data/transform.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/data/data_test_util.h"

namespace edbp::data {
namespace {

using ::testing::HasSubstr;
using testing::TempDirTest;
using testing::WriteRaw;

constexpr int kPixels = 3072;

// Record i: pixel k = (i + k) mod 256; labels as given (CIFAR-100: coarse, fine).
std::string Records(const std::vector<std::vector<uint8_t>>& labels, int first = 0) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.append(labels[i].begin(), labels[i].end());
    for (int k = 0; k < kPixels; ++k)
      out.push_back(static_cast<char>((first + i + k) % 256));
  }
  return out;
}

class CifarTest : public TempDirTest {};

TEST_F(CifarTest, ReadsCifar10RecordsInFileOrder) {
  WriteRaw(Path("a.bin"), Records({{3}, {9}}));
  WriteRaw(Path("b.bin"), Records({{0}}, 2));
  auto ds = ReadCifar(CifarVariant::kCifar10, {Path("a.bin"), Path("b.bin")});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->size, 3);
  EXPECT_EQ(ds->shape, (config::SampleShape{3, 32, 32}));
  EXPECT_EQ(ds->labels, (std::vector<int32_t>{3, 9, 0}));
  ASSERT_EQ(ds->pixels.size(), 3u * kPixels);
  EXPECT_EQ(ds->pixels[0], 0);
  EXPECT_EQ(ds->pixels[1024], 0);               // G plane starts at 1024 (mod 256 = 0)
  EXPECT_EQ(ds->pixels[kPixels + 5], 6);        // record 1, pixel 5
  EXPECT_EQ(ds->pixels[2 * kPixels + 255], 1);  // record 2 (first = 2), pixel 255

  auto limited = ReadCifar(CifarVariant::kCifar10, {Path("a.bin"), Path("b.bin")}, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size, 2);
  EXPECT_EQ(limited->labels, (std::vector<int32_t>{3, 9}));
}

TEST_F(CifarTest, Cifar100UsesTheFineLabel) {
  WriteRaw(Path("train.bin"), Records({{19, 99}, {0, 42}}));
  auto ds = ReadCifar(CifarVariant::kCifar100, {Path("train.bin")});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->labels, (std::vector<int32_t>{99, 42}));
  EXPECT_EQ(ds->pixels[0], 0);  // the pixels follow both label bytes
  EXPECT_EQ(ds->pixels[kPixels + 7], 8);
}

TEST_F(CifarTest, TruncatedFileIsDataLossNamingIt) {
  std::string bytes = Records({{1}, {2}});
  bytes.resize(bytes.size() - 1);
  WriteRaw(Path("data_batch_1.bin"), bytes);
  auto ds = ReadCifar(CifarVariant::kCifar10, {Path("data_batch_1.bin")});
  ASSERT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ds.status().message()), HasSubstr(Path("data_batch_1.bin")));
  EXPECT_THAT(std::string(ds.status().message()),
              HasSubstr("expected a multiple of 3073 bytes, got 6145"));
  WriteRaw(Path("c100.bin"), Records({{1}, {2}}));  // 2 × 3073 is not a multiple of 3074
  auto c100 = ReadCifar(CifarVariant::kCifar100, {Path("c100.bin")});
  EXPECT_THAT(std::string(c100.status().message()),
              HasSubstr("expected a multiple of 3074 bytes, got 6146"));
}

TEST_F(CifarTest, LabelOutOfRangeIsDataLoss) {
  WriteRaw(Path("x.bin"), Records({{1}, {10}}));
  auto ds = ReadCifar(CifarVariant::kCifar10, {Path("x.bin")});
  ASSERT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(ds.status().message()),
              HasSubstr("x.bin: record 1: label 10 out of range (10 classes)"));
  WriteRaw(Path("y.bin"), Records({{0, 100}}));
  EXPECT_EQ(ReadCifar(CifarVariant::kCifar100, {Path("y.bin")}).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(CifarTest, LoadsSplitsFromTheDirOrTheArchiveFolder) {
  for (int i = 1; i <= 5; ++i) {
    WriteRaw(Path("data_batch_" + std::to_string(i) + ".bin"), Records({{uint8_t(i)}}));
  }
  std::filesystem::create_directories(dir_ / "cifar-10-batches-bin");
  WriteRaw(Path("cifar-10-batches-bin/test_batch.bin"), Records({{7}, {8}}));
  config::NetworkConfig network;
  network.dataset = "CIFAR10";
  network.data_path = dir_.string();
  auto splits = LoadDataSplits(network);
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(splits->train.name, "CIFAR10/train");
  EXPECT_EQ(splits->test.name, "CIFAR10/test");
  EXPECT_EQ(splits->train.labels, (std::vector<int32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{7, 8}));

  std::filesystem::create_directories(dir_ / "cifar-100-binary");
  WriteRaw(Path("cifar-100-binary/train.bin"), Records({{1, 55}}));
  WriteRaw(Path("test.bin"), Records({{2, 66}}));
  network.dataset = "CIFAR100";
  auto c100 = LoadDataSplits(network, 1);
  ASSERT_TRUE(c100.ok()) << c100.status();
  EXPECT_EQ(c100->train.name, "CIFAR100/train");
  EXPECT_EQ(c100->train.labels, std::vector<int32_t>{55});
  EXPECT_EQ(c100->test.labels, std::vector<int32_t>{66});
}

TEST_F(CifarTest, MissingFileIsNotFoundListingBothPlaces) {
  config::NetworkConfig network;
  network.dataset = "CIFAR100";
  network.data_path = dir_.string();
  auto splits = LoadDataSplits(network);
  ASSERT_EQ(splits.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(splits.status().message()),
              HasSubstr("train.bin not found; tried " + Path("train.bin") + ", " +
                        Path("cifar-100-binary/train.bin")));
}

// ---- hostile files (issue 17, bounded inputs) ----

// /dev/zero was read until std::bad_alloc, and a FIFO blocked ReadCifar in open().
TEST_F(CifarTest, NotARegularFileIsNotFound) {
  const std::string fifo = Path("fifo.bin");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {std::string("/dev/zero"), fifo}) {
    auto ds = ReadCifar(CifarVariant::kCifar10, {path});
    ASSERT_FALSE(ds.ok()) << path;
    EXPECT_EQ(ds.status().code(), absl::StatusCode::kNotFound) << ds.status();
    EXPECT_THAT(std::string(ds.status().message()),
                HasSubstr(path + ": cannot open: not a regular file"));
  }
  auto dir = ReadCifar(CifarVariant::kCifar10, {dir_.string()});
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(dir.status().message()),
              HasSubstr(dir_.string() + ": cannot open: is a directory"));
}

TEST_F(CifarTest, EveryCutIsDataLossNamingTheSize) {
  const std::string whole = Records({{1}, {2}, {3}});
  for (const size_t keep :
       {size_t{0}, size_t{1}, size_t{3072}, size_t{3074}, size_t{2 * 3073 - 1},
        size_t{2 * 3073 + 1}, whole.size() - 1}) {
    WriteRaw(Path("cut.bin"), whole.substr(0, keep));
    for (const auto variant : {CifarVariant::kCifar10, CifarVariant::kCifar100}) {
      const int record = variant == CifarVariant::kCifar10 ? 3073 : 3074;
      if (keep % record == 0 && keep > 0) continue;
      auto ds = ReadCifar(variant, {Path("cut.bin")});
      ASSERT_FALSE(ds.ok()) << keep;
      EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss) << ds.status();
      EXPECT_THAT(
          std::string(ds.status().message()),
          HasSubstr(Path("cut.bin") + ": expected a multiple of " +
                    std::to_string(record) + " bytes, got " + std::to_string(keep)));
    }
  }
}

// Every byte random: the first label out of range is named with its file and record,
// also in a file after `limit` samples were kept (every file is checked).
TEST_F(CifarTest, GarbageLabelsAreDataLossNamingTheRecord) {
  WriteRaw(Path("good.bin"), Records({{1}, {2}}));
  std::mt19937_64 rng(3);
  std::string garbage(3073 * 20, '\0');
  for (char& ch : garbage) ch = static_cast<char>(rng());
  garbage[0] = 9;  // record 0 valid, record 1 not
  garbage[3073] = static_cast<char>(255);
  WriteRaw(Path("garbage.bin"), garbage);
  for (const int64_t limit : {0, 1}) {
    auto ds =
        ReadCifar(CifarVariant::kCifar10, {Path("good.bin"), Path("garbage.bin")}, limit);
    ASSERT_FALSE(ds.ok()) << limit;
    EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(ds.status().message()),
                HasSubstr(Path("garbage.bin") +
                          ": record 1: label 255 out of range (10 classes)"));
  }
  // CIFAR-100: the fine label (byte 1) is the one checked.
  WriteRaw(Path("c100.bin"), Records({{0, 99}, {19, 100}}, 0));
  auto c100 = ReadCifar(CifarVariant::kCifar100, {Path("c100.bin")});
  ASSERT_EQ(c100.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(c100.status().message()),
              HasSubstr(Path("c100.bin") + ": record 1: label 100 out of range (100 "
                                           "classes)"));
}

// The pixels are read straight into the data set: a 30 MB batch costs its pixels,
// no longer a copy of the file as well.
TEST_F(CifarTest, ABatchCostsItsPixelsOnce) {
  std::string batch = Records(std::vector<std::vector<uint8_t>>(10000, {7}));
  WriteRaw(Path("data_batch_1.bin"), batch);
  batch = std::string();
  auto ds = ReadCifar(CifarVariant::kCifar10, {Path("data_batch_1.bin")});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->size, 10000);
  EXPECT_EQ(ds->pixels.size(), 10000u * kPixels);
  EXPECT_EQ(ds->pixels.capacity(), ds->pixels.size()) << "one exact allocation";
  EXPECT_EQ(ds->pixels[9999 * kPixels + 3], (9999 + 3) % 256);
}

// ---- augmentation ----

ImageU8 Gray(int h, int w, std::vector<uint8_t> pixels) {
  return ImageU8{1, h, w, std::move(pixels)};
}

ImageU8 Iota(int h, int w) {  // pixel (y, x) = 1 + y·w + x
  ImageU8 img{1, h, w, std::vector<uint8_t>(h * w)};
  for (int i = 0; i < h * w; ++i) img.pixels[i] = static_cast<uint8_t>(1 + i);
  return img;
}

TEST(PaddedCrop, ExtremeOffsetsShowThePadding) {
  const ImageU8 img = Iota(6, 6);
  const ImageU8 top_left = PaddedCrop(img, 4, 0, 0);      // in(y - 4, x - 4)
  const ImageU8 bottom_right = PaddedCrop(img, 4, 8, 8);  // in(y + 4, x + 4)
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 6; ++x) {
      EXPECT_EQ(top_left.at(0, y, x), (y >= 4 && x >= 4) ? img.at(0, y - 4, x - 4) : 0);
      EXPECT_EQ(bottom_right.at(0, y, x), (y < 2 && x < 2) ? img.at(0, y + 4, x + 4) : 0);
    }
  }
  EXPECT_EQ(top_left.at(0, 4, 4), 1);
  EXPECT_EQ(bottom_right.at(0, 1, 1), 36);
}

TEST(PaddedCrop, ShiftsByHand) {
  // top 4, left 5: out(y, x) = in(y, x + 1); the last column is padding.
  const ImageU8 out = PaddedCrop(Iota(2, 3), 4, 4, 5);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{2, 3, 0, 5, 6, 0}));
  EXPECT_EQ(PaddedCrop(Iota(2, 3), 4, 4, 4).pixels, Iota(2, 3).pixels);
}

TEST(FlipHorizontal, MirrorsEachRowOfEachChannel) {
  ImageU8 img{2, 1, 3, {1, 2, 3, 4, 5, 6}};
  FlipHorizontal(img);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{3, 2, 1, 6, 5, 4}));
}

TEST(AugmentOp, InvertSolarizePosterize) {
  ImageU8 img = Gray(1, 4, {0, 127, 128, 200});
  ApplyAugmentOp(img, AugmentOp::kInvert, 0);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{255, 128, 127, 55}));
  img = Gray(1, 4, {0, 127, 128, 200});
  ApplyAugmentOp(img, AugmentOp::kSolarize, 128);  // levels >= 128 inverted
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 127, 127, 55}));
  img = Gray(1, 3, {0xab, 0xff, 0x0f});
  ApplyAugmentOp(img, AugmentOp::kPosterize, 4);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0xa0, 0xf0, 0x00}));
}

TEST(AugmentOp, MagnitudesFollowTorchvisionBins) {
  const std::vector<int> posterize = {8, 8, 7, 7, 6, 6, 5, 5, 4, 4};
  for (int bin = 0; bin < 10; ++bin) {
    EXPECT_EQ(MagnitudeOf(AugmentOp::kPosterize, bin), posterize[bin]) << bin;
  }
  EXPECT_NEAR(MagnitudeOf(AugmentOp::kRotate, 9), 30.0, 1e-5);
  EXPECT_NEAR(MagnitudeOf(AugmentOp::kRotate, 3), 10.0, 1e-5);
  EXPECT_NEAR(MagnitudeOf(AugmentOp::kSolarize, 5), 255.0 * 4 / 9, 1e-4);
  EXPECT_EQ(MagnitudeOf(AugmentOp::kSolarize, 0), 255.0);
  EXPECT_NEAR(MagnitudeOf(AugmentOp::kColor, 8), 0.8, 1e-6);
  EXPECT_NEAR(MagnitudeOf(AugmentOp::kShearX, 5), 0.3 * 5 / 9, 1e-6);
  EXPECT_TRUE(IsSigned(AugmentOp::kRotate));
  EXPECT_FALSE(IsSigned(AugmentOp::kSolarize));
}

TEST(AugmentOp, EqualizeTwoLevelImage) {
  // PIL: step = (1024 - 256) / 256 = 3; lut(50) = 1 / 3 = 0, lut(100) = 769 / 3 → 255.
  std::vector<uint8_t> pixels(1024, 50);
  for (int i = 0; i < 256; ++i) pixels[i * 4] = 100;
  ImageU8 img = Gray(32, 32, pixels);
  ApplyAugmentOp(img, AugmentOp::kEqualize, 0);
  EXPECT_EQ(img.pixels[0], 255);
  EXPECT_EQ(img.pixels[1], 0);
  ImageU8 tiny = Gray(1, 2, {10, 20});  // step 0: unchanged
  ApplyAugmentOp(tiny, AugmentOp::kEqualize, 0);
  EXPECT_EQ(tiny.pixels, (std::vector<uint8_t>{10, 20}));
}

TEST(AugmentOp, AutoContrastStretchesEachChannel) {
  ImageU8 img{2, 1, 3, {10, 20, 30, 7, 7, 7}};  // scale 12.75, offset -127.5
  ApplyAugmentOp(img, AugmentOp::kAutoContrast, 0);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 127, 255, 7, 7, 7}));
}

TEST(AugmentOp, RotateNinetyIsCounterClockwiseWithNearest) {
  ImageU8 img = Iota(4, 4);
  ApplyAugmentOp(img, AugmentOp::kRotate, 90);
  // out(y, x) = in(x, 3 - y): the right column becomes the top row.
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{4, 8, 12, 16, 3, 7, 11, 15, 2, 6, 10, 14, 1,
                                              5, 9, 13}));
  ImageU8 same = Iota(4, 4);
  ApplyAugmentOp(same, AugmentOp::kRotate, 0);
  EXPECT_EQ(same.pixels, Iota(4, 4).pixels);
}

TEST(AugmentOp, ShearXByHalf) {
  ImageU8 img = Iota(4, 4);
  // x_in = floor(x + ½ + 0.5·(y + ½)): row shifts 0, 1, 1, 2; zero fill.
  ApplyAugmentOp(img, AugmentOp::kShearX, 0.5);
  EXPECT_EQ(img.pixels,
            (std::vector<uint8_t>{1, 2, 3, 4, 6, 7, 8, 0, 10, 11, 12, 0, 15, 16, 0, 0}));
}

TEST(AugmentOp, ColorContrastSharpnessBlend) {
  ImageU8 red{3, 1, 1, {255, 0, 0}};             // L = (255·19595 + 0x8000) >> 16 = 76
  ApplyAugmentOp(red, AugmentOp::kColor, -1.0);  // factor 0: the grey image
  EXPECT_EQ(red.pixels, (std::vector<uint8_t>{76, 76, 76}));
  ImageU8 same{3, 1, 1, {255, 0, 0}};
  ApplyAugmentOp(same, AugmentOp::kColor, 0.0);
  EXPECT_EQ(same.pixels, (std::vector<uint8_t>{255, 0, 0}));

  ImageU8 two = Gray(1, 2, {100, 201});            // mean int(150.5 + 0.5) = 151
  ApplyAugmentOp(two, AugmentOp::kContrast, 0.8);  // 151 + 1.8·(v − 151), truncated
  EXPECT_EQ(two.pixels, (std::vector<uint8_t>{59, 241}));  // 59.2, 241

  std::vector<uint8_t> pixels(9, 0);
  pixels[4] = 130;  // SMOOTH: centre 5·130 / 13 = 50; the border is copied (0)
  ImageU8 sharp = Gray(3, 3, pixels);
  ApplyAugmentOp(sharp, AugmentOp::kSharpness, 1.0);  // 50 + 2·(130 − 50)
  EXPECT_EQ(sharp.pixels[4], 210);
  ImageU8 soft = Gray(3, 3, pixels);
  ApplyAugmentOp(soft, AugmentOp::kSharpness, -1.0);
  EXPECT_EQ(soft.pixels[4], 50);
  EXPECT_EQ(soft.pixels[0], 0);
}

// ---- the CIFAR training transform in the sample maker ----

Dataset Cifar(const std::string& name, int n) {
  Dataset ds = testing::MakeDataset(name, n, 3, 32, 32);
  return ds;
}

std::vector<float> Batch(const Dataset& ds, uint64_t seed) {
  const SampleMaker maker(ds, NormalizationFor(ds.name));
  std::mt19937_64 rng(seed);
  std::vector<float> out(ds.size * ds.sample_numel());
  for (int64_t i = 0; i < ds.size; ++i) {
    maker.Make(i, /*augment=*/true, rng, out.data() + i * ds.sample_numel());
  }
  return out;
}

TEST(CifarTransform, DeterministicUnderASeed) {
  for (const char* name : {"CIFAR10/train", "CIFAR100/train"}) {
    const Dataset ds = Cifar(name, 16);
    EXPECT_EQ(Batch(ds, 7), Batch(ds, 7)) << name;
    EXPECT_NE(Batch(ds, 7), Batch(ds, 8)) << name;
    std::mt19937_64 rng(0);
    std::vector<float> plain(ds.size * ds.sample_numel());
    const SampleMaker maker(ds, NormalizationFor(name));
    for (int64_t i = 0; i < ds.size; ++i) {
      maker.Make(i, false, rng, plain.data() + i * ds.sample_numel());
    }
    EXPECT_NE(Batch(ds, 7), plain) << name;
    EXPECT_EQ(rng, std::mt19937_64(0)) << "no draws without augment";
  }
}

TEST(CifarTransform, FlipsHalfTheTime) {
  // Left half 0, right half 255: after a crop shift of at most 4, the left 12 columns
  // are brighter than the right 12 only when flipped.
  Dataset ds = Cifar("CIFAR100/train", 1);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) ds.pixels[(c * 32 + y) * 32 + x] = x >= 16 ? 255 : 0;
    }
  }
  const SampleMaker maker(ds, NormalizationFor(ds.name));
  std::mt19937_64 rng(123);
  std::vector<float> out(ds.sample_numel());
  int flipped = 0;
  constexpr int kDraws = 4000;
  for (int n = 0; n < kDraws; ++n) {
    maker.Make(0, true, rng, out.data());
    float left = 0, right = 0;
    for (int x = 0; x < 12; ++x) {
      left += out[16 * 32 + x];
      right += out[16 * 32 + 31 - x];
    }
    flipped += left > right;
  }
  EXPECT_NEAR(flipped / double{kDraws}, 0.5, 0.03);
}

}  // namespace
}  // namespace edbp::data

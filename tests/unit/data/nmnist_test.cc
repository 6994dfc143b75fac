// N-MNIST on files the tests write in the upstream format (Orchard et al. 2015: 40-bit
// events, Train/ and Test/ with class folders 0..9): decoding, the equal-event-count
// frame rule against hand counts, every error naming its file, and the frame cache
// (miss, hit, corrupt, stale).
#include "core/data/nmnist.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/data/dataset.h"
#include "core/data/frame_cache.h"
#include "core/data/loader.h"
#include "core/data/transform.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/data/data_test_util.h"

namespace edbp::data {
namespace {

using ::testing::HasSubstr;
using testing::ReadBytes;
using testing::WriteRaw;

struct Ev {
  int x, y, p;
  uint32_t t;
};

// The upstream 5-byte encoding: x, y, polarity in bit 7 of byte 2, 23-bit timestamp.
std::string Encode(const std::vector<Ev>& events) {
  std::string out;
  for (const Ev& e : events) {
    out.push_back(static_cast<char>(e.x));
    out.push_back(static_cast<char>(e.y));
    out.push_back(static_cast<char>((e.p << 7) | ((e.t >> 16) & 0x7F)));
    out.push_back(static_cast<char>((e.t >> 8) & 0xFF));
    out.push_back(static_cast<char>(e.t & 0xFF));
  }
  return out;
}

std::vector<AtisEvent> ToAtis(const std::vector<Ev>& events) {
  std::vector<AtisEvent> out;
  out.reserve(events.size());
  for (const Ev& e : events) {
    out.push_back({static_cast<uint8_t>(e.x), static_cast<uint8_t>(e.y),
                   static_cast<uint8_t>(e.p), e.t});
  }
  return out;
}

class NmnistTest : public testing::TempDirTest {};

TEST_F(NmnistTest, DecodesFortyBitEvents) {
  // Bytes by hand: x 33, y 0, ON, t = 0x7ABCDE (the largest bit of byte 2 is polarity).
  const std::string bytes = {char(33),   char(0),   char(0x80 | 0x7A), char(0xBC),
                             char(0xDE), char(5),   char(17),          char(0x00),
                             char(0x01), char(0x02)};
  WriteRaw(Path("a.bin"), bytes);
  auto events = ReadAtisBin(Path("a.bin"));
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].x, 33);
  EXPECT_EQ((*events)[0].y, 0);
  EXPECT_EQ((*events)[0].polarity, 1);
  EXPECT_EQ((*events)[0].timestamp, 0x7ABCDEu);
  EXPECT_EQ((*events)[1].x, 5);
  EXPECT_EQ((*events)[1].y, 17);
  EXPECT_EQ((*events)[1].polarity, 0);
  EXPECT_EQ((*events)[1].timestamp, 0x0102u);
}

TEST_F(NmnistTest, EmptyFileHasNoEvents) {
  WriteRaw(Path("empty.bin"), "");
  auto events = ReadAtisBin(Path("empty.bin"));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_TRUE(events->empty());
}

TEST_F(NmnistTest, TruncatedFileNamesTheFileAndTheCut) {
  std::string bytes = Encode({{1, 2, 0, 3}, {4, 5, 1, 6}});
  bytes.resize(7);  // the second event cut after 2 of its 5 bytes
  WriteRaw(Path("cut.bin"), bytes);
  auto events = ReadAtisBin(Path("cut.bin"));
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(events.status().message(), HasSubstr(Path("cut.bin")));
  EXPECT_THAT(
      events.status().message(),
      HasSubstr("expected a multiple of 5 bytes (40-bit N-MNIST events), got 7: the "
                "last event is cut after 2 bytes"));
}

TEST_F(NmnistTest, MissingFileIsNotFound) {
  auto events = ReadAtisBin(Path("nope.bin"));
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(events.status().message(), HasSubstr(Path("nope.bin")));
}

// ---- hostile files (issue 17, bounded inputs) ----

// The FIFO case must not block: a reader that opens it waits for a writer forever.
TEST_F(NmnistTest, EventFileThatIsNotARegularFileIsNotFound) {
  const std::string fifo = Path("fifo.bin");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {std::string("/dev/zero"), fifo}) {
    auto events = ReadAtisBin(path);
    ASSERT_FALSE(events.ok()) << path;
    EXPECT_EQ(events.status().code(), absl::StatusCode::kNotFound) << events.status();
    EXPECT_THAT(events.status().message(),
                HasSubstr(path + ": cannot open: not a regular file"));
  }
}

// A frame count is 32-bit: a file of 2^32 events or more (a sparse file here, no disk
// used) is refused from its size, before a byte of it is read.
TEST_F(NmnistTest, EventFileOfMoreThan2To32MinusOneEventsIsDataLoss) {
  const std::string path = Path("huge.bin");
  WriteRaw(path, "");
  std::filesystem::resize_file(path, uint64_t{5} << 32);
  auto events = ReadAtisBin(path);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss) << events.status();
  EXPECT_THAT(events.status().message(),
              HasSubstr(path + ": expected at most 4294967295 events (21474836475 "
                               "bytes), got 21474836480 bytes"));
}

TEST_F(NmnistTest, EventFileCutAfterEveryByteNamesTheCut) {
  const std::string whole = Encode({{1, 2, 0, 3}, {4, 5, 1, 6}});
  for (size_t cut = 1; cut < 5; ++cut) {
    WriteRaw(Path("cut.bin"), whole.substr(0, 5 + cut));
    auto events = ReadAtisBin(Path("cut.bin"));
    ASSERT_FALSE(events.ok()) << cut;
    EXPECT_EQ(events.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(events.status().message(),
                HasSubstr(Path("cut.bin") +
                          ": expected a multiple of 5 bytes (40-bit "
                          "N-MNIST events), got " +
                          std::to_string(5 + cut) + ": the last event is cut after " +
                          std::to_string(cut) + " bytes"));
  }
}

// n_steps comes from the config: 2^62 frames of 2x34x34 wrapped to 0 values in 64
// bits, passed the size check and gave indices made of wrapped products. At most
// 1857684 frames of 2x34x34 fit 32-bit indices.
TEST(IntegrateEventsByCount, FrameBlocksThatOverflowAreAnError) {
  for (const int64_t n_steps : {int64_t{1} << 62, int64_t{1} << 21, int64_t{1857685}}) {
    auto counts = IntegrateEventsByCount(ToAtis({{0, 0, 0, 0}}), n_steps, 34, 34);
    ASSERT_FALSE(counts.ok()) << n_steps;
    EXPECT_EQ(counts.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(counts.status().message(),
              absl::StrCat(n_steps, " frames of 2x34x34 are too many"));
  }
  EXPECT_TRUE(IntegrateEventsByCount(ToAtis({{0, 0, 0, 0}}), 1857684, 34, 34).ok());
}

// 7 events, 3 frames: d = floor(7/3) = 2, frames hold events {0,1}, {2,3}, {4,5,6}.
// On a 2x3 sensor (plane 6, frame stride 12):
//   frame 0: e0, e1 at ch0 (y0, x0)             -> index 0,  count 2
//   frame 1: e2 at ch1 (y1, x2), e3 at ch0 (y0, x1) -> 12+6+5 = 23, 12+1 = 13
//   frame 2: e4, e5 at ch1 (y1, x2), e6 at ch0 (y1, x0) -> 24+6+5 = 35 (2), 24+3 = 27
TEST(IntegrateEventsByCount, HandCountedFrames) {
  const std::vector<Ev> events = {{0, 0, 0, 10}, {0, 0, 0, 11}, {2, 1, 1, 12},
                                  {1, 0, 0, 13}, {2, 1, 1, 14}, {2, 1, 1, 15},
                                  {0, 1, 0, 16}};
  auto counts = IntegrateEventsByCount(ToAtis(events), 3, /*height=*/2, /*width=*/3);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts,
            (std::vector<FrameCount>{{0, 2}, {13, 1}, {23, 1}, {27, 1}, {35, 2}}));
}

TEST(IntegrateEventsByCount, FewerEventsThanFramesAllGoToTheLastFrame) {
  // d = floor(2/4) = 0: frames 0..2 are empty, frame 3 takes events [0, 2).
  auto counts = IntegrateEventsByCount(ToAtis({{1, 0, 1, 0}, {1, 0, 1, 5}}), 4, 1, 2);
  ASSERT_TRUE(counts.ok()) << counts.status();
  // frame 3, ch1, (y0, x1): 3·4 + 2 + 1 = 15.
  EXPECT_EQ(*counts, (std::vector<FrameCount>{{15, 2}}));
}

TEST(IntegrateEventsByCount, OneFrameCountsEveryEvent) {
  auto counts = IntegrateEventsByCount(
      ToAtis({{1, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 0, 2}, {0, 0, 1, 3}}), 1, 1, 2);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::vector<FrameCount>{{1, 3}, {2, 1}}));
}

TEST(IntegrateEventsByCount, EventOutsideTheSensorIsAnError) {
  auto counts = IntegrateEventsByCount(ToAtis({{0, 0, 0, 0}, {34, 0, 0, 1}}), 2, 34, 34);
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(counts.status().message(),
            "event 1 at (x 34, y 0) is outside the 34x34 sensor");
}

// A small upstream-format tree: <root>/Train/<digit>/<NNNNN>.bin for the given labels.
class NmnistTreeTest : public testing::TempDirTest {
 protected:
  void WriteSample(const std::string& split, int label, const std::string& file,
                   const std::vector<Ev>& events) {
    const std::filesystem::path dir = dir_ / "nmnist" / split / std::to_string(label);
    std::filesystem::create_directories(dir);
    WriteRaw((dir / file).string(), Encode(events));
  }
  // Every class folder of `split`, class 1 with two samples and class 7 with one.
  void WriteSplit(const std::string& split) {
    for (int c = 0; c < 10; ++c) {
      std::filesystem::create_directories(dir_ / "nmnist" / split / std::to_string(c));
    }
    // Written out of name order: the loader sorts by file name.
    WriteSample(split, 1, "00002.bin", {{3, 4, 1, 1}, {3, 4, 1, 2}});
    WriteSample(split, 1, "00001.bin", {{0, 0, 0, 1}, {33, 33, 1, 2}, {5, 6, 0, 3}});
    WriteSample(split, 7, "00009.bin", {{10, 20, 0, 7}});
  }
  std::string Split(const std::string& split) const {
    return (dir_ / "nmnist" / split).string();
  }
  std::string Cache() const { return (dir_ / "cache").string(); }
};

TEST_F(NmnistTreeTest, LoadsInClassThenFileOrderWithHandCountedFrames) {
  WriteSplit("Train");
  FrameCacheReport report;
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, "", 0, &report);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(report.outcome, FrameCacheOutcome::kNotUsed);
  EXPECT_EQ(ds->name, "NMNIST/train");
  EXPECT_EQ(ds->shape, (config::SampleShape{2, 34, 34}));
  EXPECT_EQ(ds->frames, 2);
  EXPECT_EQ(ds->size, 3);
  EXPECT_EQ(ds->sample_floats(), 2 * 2312);
  EXPECT_EQ(ds->labels, (std::vector<int32_t>{1, 1, 7}));
  EXPECT_EQ(ds->frame_offsets, (std::vector<uint64_t>{0, 3, 5, 6}));
  // 00001.bin: d = floor(3/2) = 1: frame 0 = e0 (ch0, 0, 0) -> 0; frame 1 = e1 (ch1,
  // y33, x33) -> 2312 + 1156 + 33·34 + 33 = 4623 and e2 (ch0, y6, x5) -> 2312 + 209.
  // 00002.bin: d = 1: frame 0 = e0 (ch1, y4, x3) -> 1156 + 139 = 1295, frame 1 = e1 ->
  // 2312 + 1295 = 3607. 00009.bin: d = 0, frame 1 = e0 (ch0, y20, x10) -> 2312 + 690.
  EXPECT_EQ(ds->frame_counts,
            (std::vector<FrameCount>{
                {0, 1}, {2521, 1}, {4623, 1}, {1295, 1}, {3607, 1}, {3002, 1}}));
  // SampleMaker writes these counts, unnormalised, zero elsewhere.
  std::vector<float> out(static_cast<size_t>(ds->sample_floats()), -1.0f);
  std::mt19937_64 rng(1);
  MakeSample(*ds, NormalizationFor(ds->name), 0, /*augment=*/true, rng, out.data());
  double total = 0;
  for (float v : out) total += v;
  EXPECT_EQ(total, 3.0);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[2521], 1.0f);
  EXPECT_EQ(out[4623], 1.0f);
}

TEST_F(NmnistTreeTest, CountsAboveOneArePassedAsTheyAre) {
  WriteSplit("Train");
  auto ds = LoadNmnistSplit(Split("Train"), "train", 1, "", 0);
  ASSERT_TRUE(ds.ok()) << ds.status();
  // 00002.bin in one frame: both events at (ch1, y4, x3).
  std::vector<float> out(static_cast<size_t>(ds->sample_floats()));
  std::mt19937_64 rng(1);
  MakeSample(*ds, NormalizationFor(ds->name), 1, false, rng, out.data());
  EXPECT_EQ(out[1295], 2.0f);
}

TEST_F(NmnistTreeTest, LimitKeepsTheFirstSamples) {
  WriteSplit("Train");
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 2);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->size, 2);
  EXPECT_EQ(ds->labels, (std::vector<int32_t>{1, 1}));
  EXPECT_FALSE(std::filesystem::exists(Cache()));  // a limit bypasses the cache
}

TEST_F(NmnistTreeTest, TruncatedSampleFailsNamingTheFile) {
  WriteSplit("Train");
  const std::string bad = (dir_ / "nmnist" / "Train" / "7" / "00009.bin").string();
  WriteRaw(bad, Encode({{1, 1, 0, 0}, {2, 2, 0, 1}}).substr(0, 9));
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ds.status().message(), HasSubstr(bad));
  EXPECT_THAT(ds.status().message(), HasSubstr("cut after 4 bytes"));
}

TEST_F(NmnistTreeTest, EventOffTheSensorFailsNamingTheFile) {
  WriteSplit("Train");
  WriteSample("Train", 3, "00001.bin", {{1, 40, 0, 0}});
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, "", 0);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ds.status().message(),
              HasSubstr("Train/3/00001.bin: event 0 at (x 1, y 40)"));
}

// Random bytes (a whole number of events) and an event at (255, 255) after a thousand
// good ones: DATA_LOSS naming the file and the first event off the 34x34 sensor.
TEST_F(NmnistTreeTest, GarbageEventsFailNamingTheFileAndTheEvent) {
  WriteSplit("Train");
  const std::string bad = (dir_ / "nmnist" / "Train" / "3" / "00001.bin").string();
  std::mt19937_64 rng(5);
  std::string garbage(5 * 1000, '\0');
  for (char& ch : garbage) ch = static_cast<char>(rng());
  WriteRaw(bad, garbage);
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ds.status().message(), HasSubstr(bad + ": event "));
  EXPECT_THAT(ds.status().message(), HasSubstr("is outside the 34x34 sensor"));

  std::vector<Ev> events(1000, Ev{33, 33, 1, 0x7FFFFF});  // the largest valid event
  events.push_back({255, 255, 1, 0x7FFFFF});
  WriteRaw(bad, Encode(events));
  ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(
      ds.status().message(),
      HasSubstr(bad + ": event 1000 at (x 255, y 255) is outside the 34x34 sensor"));
}

TEST_F(NmnistTreeTest, MissingFoldersAreNotFound) {
  auto none = LoadNmnistSplit(Split("Train"), "train", 2, "", 0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("N-MNIST split folder not found"));
  WriteSample("Train", 0, "00001.bin", {{1, 1, 0, 0}});
  auto no_class = LoadNmnistSplit(Split("Train"), "train", 2, "", 0);
  ASSERT_FALSE(no_class.ok());
  EXPECT_EQ(no_class.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_class.status().message(),
              HasSubstr("Train/1: N-MNIST class folder not found"));
}

TEST_F(NmnistTreeTest, CacheMissThenHitGivesTheSameFrames) {
  WriteSplit("Train");
  FrameCacheReport first;
  auto built = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &first);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(first.outcome, FrameCacheOutcome::kMissing);
  EXPECT_TRUE(first.write_error.empty()) << first.write_error;
  ASSERT_TRUE(std::filesystem::is_regular_file(first.path)) << first.path;
  EXPECT_THAT(first.path, HasSubstr("NMNIST_train_T2_"));
  // Proof that the second load reads the cache, not the files: a file rewritten with
  // another event of the same size and modification time (so the same key) still
  // gives the old frames.
  const std::filesystem::path file = dir_ / "nmnist" / "Train" / "7" / "00009.bin";
  const auto modified = std::filesystem::last_write_time(file);
  WriteRaw(file.string(), Encode({{11, 20, 0, 7}}));
  std::filesystem::last_write_time(file, modified);
  FrameCacheReport second;
  auto cached = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &second);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(second.outcome, FrameCacheOutcome::kHit);
  EXPECT_EQ(second.path, first.path);
  EXPECT_EQ(cached->name, "NMNIST/train");
  EXPECT_EQ(cached->shape, built->shape);
  EXPECT_EQ(cached->frames, 2);
  EXPECT_EQ(cached->labels, built->labels);
  EXPECT_EQ(cached->frame_offsets, built->frame_offsets);
  EXPECT_EQ(cached->frame_counts, built->frame_counts);
  EXPECT_EQ(cached->frame_counts.back().index, 3002u);  // x 10 as cached, not x 11
}

TEST_F(NmnistTreeTest, CacheIsKeyedByStepsSplitAndFiles) {
  WriteSplit("Train");
  WriteSplit("Test");
  FrameCacheReport t2, t3, test, changed;
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &t2).ok());
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 3, Cache(), 0, &t3).ok());
  ASSERT_TRUE(LoadNmnistSplit(Split("Test"), "test", 2, Cache(), 0, &test).ok());
  EXPECT_EQ(t3.outcome, FrameCacheOutcome::kMissing);
  EXPECT_EQ(test.outcome, FrameCacheOutcome::kMissing);
  EXPECT_NE(t2.path, t3.path);
  EXPECT_NE(t2.path, test.path);
  // A source file that changes size changes the key: the old frames are not reused.
  WriteSample("Train", 7, "00009.bin", {{10, 20, 0, 7}, {11, 20, 0, 8}});
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &changed);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(changed.outcome, FrameCacheOutcome::kMissing);
  EXPECT_NE(changed.path, t2.path);
  EXPECT_EQ(ds->frame_offsets.back(), 7u);  // 00009.bin now gives two counts
}

TEST_F(NmnistTreeTest, CorruptCacheIsRebuiltNotUsed) {
  WriteSplit("Train");
  FrameCacheReport first;
  auto built = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &first);
  ASSERT_TRUE(built.ok()) << built.status();
  // Flip one byte of the last count (its value), keeping the size.
  std::string bytes = ReadBytes(first.path);
  bytes[bytes.size() - 8 - 4] ^= 0x01;
  WriteRaw(first.path, bytes);
  FrameCacheReport second;
  auto rebuilt = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &second);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(second.outcome, FrameCacheOutcome::kCorrupt);
  EXPECT_THAT(second.reason, HasSubstr("checksum mismatch"));
  EXPECT_EQ(rebuilt->frame_counts, built->frame_counts);
  // ... and rewritten: the third load hits.
  FrameCacheReport third;
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &third).ok());
  EXPECT_EQ(third.outcome, FrameCacheOutcome::kHit);
}

TEST_F(NmnistTreeTest, TruncatedCacheIsRebuilt) {
  WriteSplit("Train");
  FrameCacheReport first;
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &first).ok());
  for (const size_t keep : {size_t{0}, size_t{6}, size_t{40}}) {
    WriteRaw(first.path, ReadBytes(first.path).substr(0, keep));
    FrameCacheReport again;
    auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &again);
    ASSERT_TRUE(ds.ok()) << ds.status();
    EXPECT_EQ(again.outcome, FrameCacheOutcome::kCorrupt) << keep;
    EXPECT_EQ(ds->size, 3);
  }
}

TEST_F(NmnistTreeTest, CacheOfAnotherVersionIsStale) {
  WriteSplit("Train");
  FrameCacheReport first;
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &first).ok());
  std::string bytes = ReadBytes(first.path);
  const uint32_t old_version = kFrameCacheVersion + 1;
  std::memcpy(bytes.data() + 8, &old_version, 4);  // little-endian u32 after the magic
  WriteRaw(first.path, bytes);
  FrameCacheReport second;
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &second).ok());
  EXPECT_EQ(second.outcome, FrameCacheOutcome::kStale);
  EXPECT_EQ(second.reason, "version 2, expected 1");
}

TEST_F(NmnistTreeTest, CacheWithAnotherKeyIsStale) {
  WriteSplit("Train");
  FrameCacheReport first;
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &first);
  ASSERT_TRUE(ds.ok());
  // A cache for other frames put under this key's file name.
  FrameCacheKey other{.dataset = "NMNIST",
                      .source = "/elsewhere",
                      .split = "train",
                      .n_steps = 2,
                      .listing = 1};
  ASSERT_TRUE(WriteFrameCache(first.path, other, *ds).ok());
  FrameCacheReport second;
  ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &second).ok());
  EXPECT_EQ(second.outcome, FrameCacheOutcome::kStale);
  EXPECT_THAT(second.reason, HasSubstr("key \"NMNIST|/elsewhere|train|T=2|"));
}

TEST_F(NmnistTreeTest, UnwritableCacheIsReportedNotFatal) {
  WriteSplit("Train");
  WriteRaw(Path("file"), "x");  // a file where the cache directory should be
  FrameCacheReport report;
  auto ds =
      LoadNmnistSplit(Split("Train"), "train", 2, Path("file") + "/cache", 0, &report);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->size, 3);
  EXPECT_THAT(report.write_error, HasSubstr("cannot create the cache directory"));
}

TEST_F(NmnistTreeTest, LoadDataSplitsReadsTrainAndTestThroughTheCache) {
  WriteSplit("Train");
  WriteSplit("Test");
  WriteSample("Test", 0, "00001.bin", {{1, 1, 1, 1}});
  config::NetworkConfig network;
  network.dataset = "NMNIST";
  network.n_steps = 4;
  network.data_path = (dir_ / "nmnist").string();
  // Default cache directory: next to the data.
  auto splits = LoadDataSplits(network);
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(splits->train.name, "NMNIST/train");
  EXPECT_EQ(splits->test.name, "NMNIST/test");
  EXPECT_EQ(splits->train.size, 3);
  EXPECT_EQ(splits->test.size, 4);
  EXPECT_EQ(splits->test.labels, (std::vector<int32_t>{0, 1, 1, 7}));
  EXPECT_EQ(splits->train.frames, 4);
  int cache_files = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(dir_ / "nmnist" / "edbp_frame_cache")) {
    cache_files += e.path().extension() == ".frames";
  }
  EXPECT_EQ(cache_files, 2);
  // Network.cache_path moves it.
  network.cache_path = Cache();
  ASSERT_TRUE(LoadDataSplits(network).ok());
  EXPECT_TRUE(std::filesystem::is_directory(Cache()));
}

TEST_F(NmnistTreeTest, LoaderGivesSampleMajorFrames) {
  WriteSplit("Train");
  auto ds = LoadNmnistSplit(Split("Train"), "train", 2, "", 0);
  ASSERT_TRUE(ds.ok()) << ds.status();
  BatchLoader loader(*ds, {.batch_size = 2});
  std::optional<Batch> batch = loader.Next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->frames, 2);
  ASSERT_EQ(batch->images.size(), 2u * 2 * 2312);
  // Sample 1 (00002.bin), frame 1, index 1295 of the frame: [1][1][1295].
  EXPECT_EQ(batch->images[(1 * 2 + 1) * 2312 + 1295], 1.0f);
  EXPECT_EQ(batch->images[(1 * 2 + 0) * 2312 + 1295], 1.0f);
  EXPECT_EQ(batch->images[(0 * 2 + 0) * 2312 + 0], 1.0f);
  double total = 0;
  for (float v : batch->images) total += v;
  EXPECT_EQ(total, 5.0);  // 3 + 2 events
}

// ---- hostile frame caches (issue 17, bounded inputs) ----

// A frame cache file split into its fields (frame_cache.h): the tests write caches
// whose header lies and whose checksum is right, as anyone who can write the file can.
struct CacheFile {
  std::string prefix;  // magic, version, key length, key
  int64_t c = 0, h = 0, w = 0, frames = 0, size = 0;
  uint64_t counts = 0;
  std::vector<int32_t> labels;
  std::vector<uint64_t> offsets;
  std::vector<FrameCount> values;
  std::optional<std::string> body;  // instead of the three arrays

  static CacheFile Parse(const std::string& bytes) {
    CacheFile f;
    uint32_t key_length = 0;
    std::memcpy(&key_length, bytes.data() + 12, 4);
    size_t at = 16 + key_length;
    f.prefix = bytes.substr(0, at);
    for (int64_t* v : {&f.c, &f.h, &f.w, &f.frames, &f.size}) {
      std::memcpy(v, bytes.data() + at, 8);
      at += 8;
    }
    std::memcpy(&f.counts, bytes.data() + at, 8);
    at += 8;
    f.labels.resize(static_cast<size_t>(f.size));
    f.offsets.resize(static_cast<size_t>(f.size) + 1);
    f.values.resize(f.counts);
    for (auto [dst, n] : {std::pair<void*, size_t>{f.labels.data(), f.labels.size() * 4},
                          {f.offsets.data(), f.offsets.size() * 8},
                          {f.values.data(), f.values.size() * 8}}) {
      std::memcpy(dst, bytes.data() + at, n);
      at += n;
    }
    EXPECT_EQ(at + 8, bytes.size());
    return f;
  }

  // The file, with the checksum of its bytes.
  std::string Bytes() const {
    std::string out = prefix;
    auto put = [&out](const void* p, size_t n) {
      out.append(static_cast<const char*>(p), n);
    };
    for (const int64_t v : {c, h, w, frames, size}) put(&v, 8);
    put(&counts, 8);
    if (body.has_value()) {
      out += *body;
    } else {
      put(labels.data(), labels.size() * 4);
      put(offsets.data(), offsets.size() * 8);
      put(values.data(), values.size() * 8);
    }
    const uint64_t sum = Fnv1a64(out.data(), out.size());
    put(&sum, 8);
    return out;
  }
};

class HostileCacheTest : public NmnistTreeTest {
 protected:
  void SetUp() override {
    NmnistTreeTest::SetUp();
    WriteSplit("Train");
    FrameCacheReport first;
    auto built = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &first);
    ASSERT_TRUE(built.ok()) << built.status();
    ASSERT_EQ(first.outcome, FrameCacheOutcome::kMissing);
    path_ = first.path;
    built_ = *std::move(built);
    valid_ = CacheFile::Parse(ReadBytes(path_));
    ASSERT_EQ(valid_.size, 3);
    ASSERT_EQ(valid_.counts, 6u);
  }

  // Loads the split over the cache `bytes`: it must be rebuilt (kCorrupt, with a
  // reason holding `why`) into the same frames, never read.
  void ExpectRebuilt(const std::string& bytes, const std::string& why) {
    WriteRaw(path_, bytes);
    FrameCacheReport report;
    auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &report);
    ASSERT_TRUE(ds.ok()) << ds.status();
    EXPECT_EQ(report.outcome, FrameCacheOutcome::kCorrupt)
        << why << ": " << report.reason;
    EXPECT_EQ(report.path, path_);
    EXPECT_THAT(report.reason, HasSubstr(why));
    EXPECT_EQ(ds->labels, built_.labels) << why;
    EXPECT_EQ(ds->frame_offsets, built_.frame_offsets) << why;
    EXPECT_EQ(ds->frame_counts, built_.frame_counts) << why;
  }

  std::string path_;
  Dataset built_;
  CacheFile valid_;
};

// size * 4 + (size + 1) * 8 + counts * 8 + 8 was computed in 64 bits: 2^62 samples
// make 16 (mod 2^64), so a header claiming them over 8 bytes passed the size check and
// aborted in std::vector::resize (std::length_error); so did 2^61 counts.
TEST_F(HostileCacheTest, CountsThatOverflowAreCorruptNotAnAbort) {
  struct Lie {
    int64_t size;
    uint64_t counts;
  };
  for (const Lie lie :
       {Lie{int64_t{1} << 62, 0}, Lie{0, uint64_t{1} << 61},
        Lie{int64_t{1} << 61, uint64_t{1} << 60}, Lie{0, (uint64_t{1} << 61) + 1}}) {
    CacheFile f = valid_;
    f.size = lie.size;
    f.counts = lie.counts;
    // What the wrapped sum asks for: 16 bytes after the header, 8 and the checksum.
    f.body = std::string(lie.counts % 2 == 1 ? 16 : 8, '\0');
    ExpectRebuilt(f.Bytes(), absl::StrCat("the header claims ", lie.size, " samples and ",
                                          lie.counts,
                                          " counts: more than 2^64 - 1 bytes after "
                                          "the header, the file has "));
  }
}

TEST_F(HostileCacheTest, SizesThatDisagreeWithTheFileAreCorrupt) {
  CacheFile f = valid_;
  f.size = 4;
  ExpectRebuilt(f.Bytes(),
                "the header claims 4 samples and 6 counts: 112 bytes after "
                "the header, the file has 100");
  f = valid_;
  f.counts = 5;
  ExpectRebuilt(f.Bytes(), "the header claims 3 samples and 5 counts: 92 bytes");
  f = valid_;
  f.size = -1;
  ExpectRebuilt(f.Bytes(), "implausible header: C 2, H 34, W 34, frames 2, size -1");
  f = valid_;
  f.frames = 3;
  ExpectRebuilt(f.Bytes(), "frames 3 (expected 2, the key's n_steps)");
  // A cache of fewer samples than the split's files, consistent in itself: sample 2
  // dropped.
  f = valid_;
  f.size = 2;
  f.labels.pop_back();
  f.offsets.pop_back();
  f.values.pop_back();
  f.counts = 5;
  ExpectRebuilt(f.Bytes(), "2 samples, the split has 3 files");
}

// C x H x W x frames was multiplied in int64 (2^32 x 2^32 x 2 x 2 is signed overflow);
// a cache of another shape was used as it was, its samples of the wrong size.
TEST_F(HostileCacheTest, ShapesThatOverflowOrDifferAreCorrupt) {
  CacheFile f = valid_;
  f.c = int64_t{1} << 32;
  f.h = int64_t{1} << 32;
  f.w = 2;
  ExpectRebuilt(f.Bytes(),
                "a sample of 2 frames of 4294967296x4294967296x2 overflows 64 bits");
  f = valid_;
  f.w = 68;
  ExpectRebuilt(f.Bytes(), "shape [2,34,68], expected [2,34,34]");
  for (int64_t* field : {&f.c, &f.h, &f.w}) {
    f = valid_;
    *field = 0;
    ExpectRebuilt(f.Bytes(), "implausible header");
  }
}

TEST_F(HostileCacheTest, OffsetsThatLieAreCorrupt) {
  struct Lie {
    std::vector<uint64_t> offsets;
    std::string why;
  };
  for (const Lie& lie : std::vector<Lie>{
           {{1, 3, 5, 6}, "frame_offsets[0] is 1, expected 0"},
           {{0, 3, 5, 5}, "frame_offsets[3] is 5, expected the 6 counts"},
           {{0, 5, 3, 6}, "frame_offsets[2] is 3, below frame_offsets[1] 5"},
           {{0, 3, 9, 6}, "frame_offsets[2] is 9, past the 6 counts"},
           {{0, 18446744073709551615u, 5, 6},
            "frame_offsets[1] is 18446744073709551615, past the 6 counts"}}) {
    CacheFile f = valid_;
    f.offsets = lie.offsets;
    ExpectRebuilt(f.Bytes(), lie.why);
  }
}

TEST_F(HostileCacheTest, CountsOutsideTheSampleBlockAreCorrupt) {
  // Sample 2 holds count 5; a sample is 2 frames of 2x34x34 = 4624 values.
  for (const uint32_t index : {4624u, 4294967295u}) {
    CacheFile f = valid_;
    f.values[5].index = index;
    ExpectRebuilt(f.Bytes(),
                  absl::StrCat("sample 2: count 5 has index ", index,
                               ", outside the 4624 values of 2 frames of 2x34x34"));
  }
  CacheFile f = valid_;
  f.values[1].index = 0;  // sample 0: counts 0, 1, 2 at 0, 2521, 4623
  ExpectRebuilt(f.Bytes(), "sample 0: count 1 has index 0, not above count 0's 0");
}

// A label was used as it was: -1 passed the trainer's check (max label < n_class) and
// indexed before its confusion matrix.
TEST_F(HostileCacheTest, LabelsOutsideTheClassesAreCorrupt) {
  for (const int32_t label : {-1, 10, INT32_MIN, INT32_MAX}) {
    CacheFile f = valid_;
    f.labels[1] = label;
    ExpectRebuilt(f.Bytes(), absl::StrCat("sample 1: label ", label, ", expected 0..9"));
  }
}

TEST_F(HostileCacheTest, EveryTruncationIsCorrupt) {
  const std::string whole = valid_.Bytes();
  ASSERT_EQ(whole, ReadBytes(path_));
  for (size_t keep = 0; keep < whole.size(); ++keep) {
    ExpectRebuilt(whole.substr(0, keep), "");
  }
  ExpectRebuilt(whole + "x", "checksum mismatch");
}

TEST_F(HostileCacheTest, GarbageIsCorrupt) {
  std::mt19937_64 rng(17);
  for (int round = 0; round < 100; ++round) {
    CacheFile f = valid_;
    std::string garbage(rng() % 200, '\0');
    for (char& ch : garbage) ch = static_cast<char>(rng());
    // The key part kept, so the garbage reaches the header and arrays.
    f.body = garbage;
    for (int64_t* v : {&f.c, &f.h, &f.w, &f.frames, &f.size}) {
      if (rng() % 2 == 0) *v = static_cast<int64_t>(rng());
    }
    if (rng() % 2 == 0) f.counts = rng();
    ExpectRebuilt(f.Bytes(), "");
  }
}

// A cache path that is a FIFO blocked the load forever in open(); one that is a link
// to /dev/zero was read until std::bad_alloc. Now neither is opened, and the rebuilt
// cache replaces it.
TEST_F(HostileCacheTest, CacheThatIsNotARegularFileIsNotRead) {
  for (const bool fifo : {false, true}) {
    std::filesystem::remove(path_);
    if (fifo) {
      ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
    } else {
      std::filesystem::create_symlink("/dev/zero", path_);
    }
    FrameCacheReport report;
    auto ds = LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &report);
    ASSERT_TRUE(ds.ok()) << ds.status();
    EXPECT_EQ(report.outcome, FrameCacheOutcome::kCorrupt) << fifo;
    EXPECT_EQ(report.reason, "not a regular file") << fifo;
    EXPECT_EQ(ds->frame_counts, built_.frame_counts);
    EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(path_)));
    FrameCacheReport again;
    ASSERT_TRUE(LoadNmnistSplit(Split("Train"), "train", 2, Cache(), 0, &again).ok());
    EXPECT_EQ(again.outcome, FrameCacheOutcome::kHit) << again.reason;
  }
}

// Found by the frame_cache fuzzer (issue 17): a cache of no samples and no counts
// passed the null data() of its empty arrays to memcpy (undefined behaviour that
// UBSan aborts on). It reads back as an empty hit.
TEST(FrameCache, AnEmptyDataSetRoundTrips) {
  Dataset empty;
  empty.shape = {2, 34, 34};
  empty.frames = 3;
  empty.frame_offsets = {0};
  const FrameCacheKey key{.dataset = "NMNIST",
                          .source = "/nowhere/Train",
                          .split = "train",
                          .n_steps = 3,
                          .listing = 7};
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("edbp_empty_cache_" + std::to_string(::getpid()) + ".frames"))
          .string();
  ASSERT_TRUE(WriteFrameCache(path, key, empty).ok());
  FrameCacheOutcome outcome = FrameCacheOutcome::kNotUsed;
  std::string reason;
  const std::optional<Dataset> back = ReadFrameCache(path, key, &outcome, &reason);
  std::filesystem::remove(path);
  ASSERT_TRUE(back.has_value()) << reason;
  EXPECT_EQ(outcome, FrameCacheOutcome::kHit);
  EXPECT_EQ(back->size, 0);
  EXPECT_EQ(back->frame_offsets, std::vector<uint64_t>{0});
  EXPECT_TRUE(back->labels.empty());
  EXPECT_TRUE(back->frame_counts.empty());
}

}  // namespace
}  // namespace edbp::data

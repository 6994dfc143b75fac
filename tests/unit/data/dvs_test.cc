// Issue 20: DVS128 Gesture (AEDAT 3.1 + labels) and CIFAR10-DVS (AEDAT 2.0) on files
// written here byte by byte, with frames counted by hand; and every way a file can
// break the format giving a clear error instead of a crash or a giant allocation.
#include "core/data/dvs.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/data/aedat.h"
#include "core/data/loader.h"
#include "core/data/transform.h"
#include "gtest/gtest.h"
#include "tests/status_macros.h"
#include "tests/temp_dir.h"

namespace edbp::data {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

template <typename T>
std::string Le(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(v));
}

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}

// One AEDAT 3.1 packet: the 28-byte header, then `events`.
std::string Packet(int16_t type, int32_t size, int32_t overflow, int32_t capacity,
                   const std::string& events) {
  return Le(type) + Le(int16_t{1}) + Le(size) + Le(int32_t{4}) + Le(overflow) +
         Le(capacity) + Le(capacity) + Le(capacity) + events;
}

// A polarity event: valid bit set, as the cameras write it.
std::string Polarity(uint32_t x, uint32_t y, uint32_t p, int32_t t) {
  return Le(uint32_t{(x << 17) | (y << 2) | (p << 1) | 1u}) + Le(t);
}

constexpr char kHeader31[] = "#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n";

// Five events: three in a packet without overflow, two with tsOverflow 1; a
// non-polarity packet (type 2, 16-byte events) between them is skipped.
std::string Gesture31() {
  return std::string(kHeader31) +
         Packet(
             1, 8, 0, 3,
             Polarity(1, 2, 1, 10) + Polarity(3, 4, 0, 20) + Polarity(127, 127, 1, 30)) +
         Packet(2, 16, 0, 1, std::string(16, '\x7f')) +
         Packet(1, 8, 1, 2, Polarity(5, 6, 0, 5) + Polarity(7, 8, 1, 6));
}

// Index of (frame, channel, y, x) in a sample's [frames, 2, 128, 128] block.
uint32_t At(int frame, int channel, int y, int x) {
  return static_cast<uint32_t>(((frame * 2 + channel) * 128 + y) * 128 + x);
}

std::vector<FrameCount> CountsOf(const Dataset& ds, int64_t i) {
  return {ds.frame_counts.begin() + static_cast<int64_t>(ds.frame_offsets[i]),
          ds.frame_counts.begin() + static_cast<int64_t>(ds.frame_offsets[i + 1])};
}

TEST(Aedat31, DecodesPolarityPacketsAndExtendsTimestampsByTheOverflow) {
  testing::TempDir tmp("dvs");
  Write(tmp / "a.aedat", Gesture31());
  ASSERT_OK_AND_ASSIGN(const std::vector<DvsEvent> events,
                       ReadAedat31((tmp / "a.aedat").string()));
  const int64_t high = int64_t{1} << 31;
  EXPECT_EQ(events, (std::vector<DvsEvent>{{1, 2, 1, 10},
                                           {3, 4, 0, 20},
                                           {127, 127, 1, 30},
                                           {5, 6, 0, high + 5},
                                           {7, 8, 1, high + 6}}));
}

TEST(Aedat31, BrokenFilesAreClearErrors) {
  testing::TempDir tmp("dvs");
  const std::string good = Gesture31();
  const auto error = [&](const std::string& bytes) {
    Write(tmp / "bad.aedat", bytes);
    return ReadAedat31((tmp / "bad.aedat").string()).status();
  };
  // Cut inside a packet header, inside the events, and no header end.
  for (size_t cut : {sizeof(kHeader31) - 1 + 10, good.size() - 3}) {
    const absl::Status s = error(good.substr(0, cut));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << cut;
    EXPECT_NE(s.message().find("bad.aedat"), std::string::npos) << s;
  }
  EXPECT_NE(error(good.substr(0, sizeof(kHeader31) - 1 + 10))
                .message()
                .find("is cut after 10 of 28 bytes"),
            std::string::npos);
  EXPECT_NE(error("#!AER-DAT3.1\r\n" + Packet(1, 8, 0, 0, ""))
                .message()
                .find("no \"#!END-HEADER\" line"),
            std::string::npos);
  // A capacity that lies (2^31 - 1 events of 8 bytes): refused before any allocation.
  const absl::Status lying =
      error(std::string(kHeader31) + Packet(1, 8, 0, 0x7fffffff, ""));
  EXPECT_NE(lying.message().find("announces 2147483647 events of 8 bytes"),
            std::string::npos)
      << lying;
  EXPECT_NE(error(std::string(kHeader31) + Packet(1, 16, 0, 1, std::string(16, 0)))
                .message()
                .find("has eventSize 16, expected 8"),
            std::string::npos);
  EXPECT_NE(error(std::string(kHeader31) + Packet(1, 8, 0, -1, ""))
                .message()
                .find("expected both >= 0"),
            std::string::npos);
  // An empty body is no error: no events.
  Write(tmp / "empty.aedat", kHeader31);
  ASSERT_OK_AND_ASSIGN(const auto none, ReadAedat31((tmp / "empty.aedat").string()));
  EXPECT_TRUE(none.empty());
  // Not a regular file, or missing.
  ASSERT_EQ(mkfifo((tmp / "fifo.aedat").c_str(), 0600), 0);
  EXPECT_EQ(ReadAedat31((tmp / "fifo.aedat").string()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadAedat31((tmp / "missing.aedat").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(GestureLabels, KeepsRepeatsOverlapsAndEmptyIntervalsAndRefusesBrokenRows) {
  testing::TempDir tmp("dvs");
  Write(tmp / "l.csv",
        "class,startTime_usec,endTime_usec\r\n3,10,30\r\n3,10,21\r\n\r\n11,40,40\r\n"
        "1,0,2147483660\r\n");
  ASSERT_OK_AND_ASSIGN(const std::vector<GestureInterval> rows,
                       ReadGestureLabels((tmp / "l.csv").string()));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].label, 2);
  EXPECT_EQ(rows[1].end, 21);
  EXPECT_EQ(rows[2].label, 10);
  EXPECT_EQ(rows[2].start, rows[2].end);
  EXPECT_EQ(rows[3].end, 2147483660);
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"class,s,e\n12,0,5\n", "l.csv:2: expected a class from 1 to 11"},
           {"class,s,e\n0,0,5\n", "expected a class from 1 to 11"},
           {"class,s,e\n3,9,5\n", "the interval ends before it starts"},
           {"class,s,e\n3,a,5\n", "three integers"},
           {"class,s,e\n3,5\n", "three integers"},
           {"class,s,e\n3,5,6,7\n", "three integers"},
           {"class,s,e\n3,99999999999999999999,6\n", "three integers"},
       }) {
    Write(tmp / "l.csv", text);
    const absl::Status s = ReadGestureLabels((tmp / "l.csv").string()).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << text;
    EXPECT_NE(s.message().find(why), std::string::npos) << s;
  }
}

TEST(DvsGesture, SamplesAreTheLabelledIntervalsWithHandCountedFrames) {
  testing::TempDir tmp("dvs");
  Write(tmp / "user01_led.aedat", Gesture31());
  Write(
      tmp / "user01_led_labels.csv",
      "class,startTime_usec,endTime_usec\n3,10,30\n3,10,21\n11,40,40\n1,0,2147483660\n");
  Write(tmp / "trials_to_train.txt", "user01_led.aedat\n\n");
  Write(tmp / "trials_to_test.txt", "user02_led.aedat\n");
  ASSERT_OK_AND_ASSIGN(const Dataset ds,
                       LoadDvsGestureSplit(tmp.path().string(), "train", 2, "", 0));
  EXPECT_EQ(ds.name, "DVS128Gesture/train");
  EXPECT_EQ(ds.shape, (config::SampleShape{2, 128, 128}));
  EXPECT_EQ(ds.frames, 2);
  ASSERT_EQ(ds.size, 4);
  EXPECT_EQ(ds.labels, (std::vector<int32_t>{2, 2, 10, 0}));
  // [10, 30): events t=10 (1,2,ON) and t=20 (3,4,OFF); 2 events over 2 frames, one each.
  EXPECT_EQ(CountsOf(ds, 0),
            (std::vector<FrameCount>{{At(0, 1, 2, 1), 1}, {At(1, 0, 4, 3), 1}}));
  // [10, 21) overlaps it: the same two events.
  EXPECT_EQ(CountsOf(ds, 1), CountsOf(ds, 0));
  // [40, 40) is empty: no event, all frames zero.
  EXPECT_TRUE(CountsOf(ds, 2).empty());
  // Everything: 5 events, floor(5/2) = 2 in frame 0, the other 3 in the last frame.
  EXPECT_EQ(CountsOf(ds, 3), (std::vector<FrameCount>{{At(0, 0, 4, 3), 1},
                                                      {At(0, 1, 2, 1), 1},
                                                      {At(1, 0, 6, 5), 1},
                                                      {At(1, 1, 8, 7), 1},
                                                      {At(1, 1, 127, 127), 1}}));
  // A sample as the loader makes it for the test pass (no transform): the counts as
  // floats, unnormalised.
  const SampleMaker maker(ds, NormalizationFor("DVS128Gesture"));
  std::vector<float> floats(static_cast<size_t>(ds.sample_floats()), -1.0f);
  std::mt19937_64 rng(1);
  maker.Make(0, /*augment=*/false, rng, floats.data());
  EXPECT_EQ(floats[At(0, 1, 2, 1)], 1.0f);
  EXPECT_EQ(floats[At(1, 0, 4, 3)], 1.0f);
  EXPECT_EQ(std::count(floats.begin(), floats.end(), 0.0f),
            static_cast<int64_t>(floats.size()) - 2);
  // A limit reads no further.
  ASSERT_OK_AND_ASSIGN(const Dataset two,
                       LoadDvsGestureSplit(tmp.path().string(), "train", 2, "", 2));
  EXPECT_EQ(two.size, 2);
  // The test list names a recording that is not there.
  const absl::Status missing =
      LoadDvsGestureSplit(tmp.path().string(), "test", 2, "", 0).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("user02_led_labels.csv"), std::string::npos)
      << missing;
  const absl::Status no_list =
      LoadDvsGestureSplit((tmp / "nowhere").string(), "train", 2, "", 0).status();
  EXPECT_NE(no_list.message().find("trials_to_train.txt"), std::string::npos) << no_list;
}

constexpr char kHeader20[] = "#!AER-DAT2.0\r\n# This is a raw AE data file\r\n";

std::string Event20(uint32_t x, uint32_t y, uint32_t p, uint32_t t) {
  return Be32((y << 8) | (x << 1) | p) + Be32(t);
}

TEST(Aedat20, DecodesBigEndianEventsAndRefusesACutOne) {
  testing::TempDir tmp("dvs");
  Write(tmp / "a.aedat",
        kHeader20 + Event20(1, 2, 1, 7) + Event20(127, 0, 0, 0x01020304));
  ASSERT_OK_AND_ASSIGN(const std::vector<DvsEvent> events,
                       ReadAedat20((tmp / "a.aedat").string()));
  EXPECT_EQ(events, (std::vector<DvsEvent>{{1, 2, 1, 7}, {127, 0, 0, 0x01020304}}));
  Write(tmp / "cut.aedat",
        kHeader20 + Event20(1, 2, 1, 7) + Event20(1, 2, 1, 7).substr(0, 5));
  const absl::Status s = ReadAedat20((tmp / "cut.aedat").string()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("the last event is cut after 5 bytes"), std::string::npos)
      << s;
}

TEST(Cifar10Dvs, TheFirstNinetyPercentOfEachClassRoundedUpTrainAndEventsAreFlipped) {
  testing::TempDir tmp("dvs");
  const char* classes[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                           "dog",      "frog",       "horse", "ship", "truck"};
  // airplane: 10 recordings (ceil(9) = 9 train, 1 test); the others one each
  // (ceil(0.9) = 1 train, 0 test).
  for (int i = 0; i < 10; ++i) {
    Write(tmp / "airplane" / ("cifar10_airplane_" + std::to_string(i) + ".aedat"),
          kHeader20 + Event20(1, 2, 1, 1) + Event20(1, 2, 1, 2));
  }
  for (int c = 1; c < 10; ++c) {
    Write(tmp / classes[c] / "x_0.aedat", kHeader20 + Event20(3, 4, 0, 1));
  }
  Write(tmp / "bird" / "notes.txt", "not a recording");
  ASSERT_OK_AND_ASSIGN(const DataSplits s, LoadCifar10Dvs(tmp.path().string(), 1, "", 0));
  EXPECT_EQ(s.train.name, "CIFAR10DVS/train");
  EXPECT_EQ(s.train.size, 18);
  EXPECT_EQ(s.test.size, 1);
  EXPECT_EQ(s.train.labels,
            (std::vector<int32_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(s.test.labels, (std::vector<int32_t>{0}));
  // (1, 2, ON) twice becomes x' = 127 - 2, y' = 127 - 1, OFF: one pixel counted 2.
  EXPECT_EQ(CountsOf(s.train, 0), (std::vector<FrameCount>{{At(0, 0, 126, 125), 2}}));
  // (3, 4, OFF) becomes (123, 124, ON).
  EXPECT_EQ(CountsOf(s.train, 9), (std::vector<FrameCount>{{At(0, 1, 124, 123), 1}}));
  ASSERT_OK_AND_ASSIGN(const DataSplits limited,
                       LoadCifar10Dvs(tmp.path().string(), 1, "", 3));
  EXPECT_EQ(limited.train.size, 3);
  EXPECT_EQ(limited.test.size, 1);
  fs::remove_all(tmp / "truck");
  const absl::Status missing = LoadCifar10Dvs(tmp.path().string(), 1, "", 0).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("truck"), std::string::npos) << missing;
}

TEST(DvsGesture, TheFramesAreCachedAndRebuiltWhenARecordingChanges) {
  testing::TempDir tmp("dvs");
  Write(tmp / "user01_led.aedat", Gesture31());
  Write(tmp / "user01_led_labels.csv", "class,s,e\n3,10,30\n1,0,2147483660\n");
  Write(tmp / "trials_to_train.txt", "user01_led.aedat\n");
  const std::string cache = (tmp / "cache").string();
  FrameCacheReport first, second, third;
  ASSERT_OK_AND_ASSIGN(
      const Dataset built,
      LoadDvsGestureSplit(tmp.path().string(), "train", 2, cache, 0, &first));
  EXPECT_EQ(first.outcome, FrameCacheOutcome::kMissing);
  EXPECT_TRUE(first.write_error.empty()) << first.write_error;
  ASSERT_OK_AND_ASSIGN(
      const Dataset cached,
      LoadDvsGestureSplit(tmp.path().string(), "train", 2, cache, 0, &second));
  EXPECT_EQ(second.outcome, FrameCacheOutcome::kHit);
  EXPECT_EQ(cached.name, "DVS128Gesture/train");
  EXPECT_EQ(cached.labels, built.labels);
  EXPECT_EQ(cached.frame_offsets, built.frame_offsets);
  EXPECT_EQ(cached.frame_counts, built.frame_counts);
  // Another labels file (another size): another key, the frames are built again.
  Write(tmp / "user01_led_labels.csv", "class,s,e\n3,10,30\n");
  ASSERT_OK_AND_ASSIGN(
      const Dataset rebuilt,
      LoadDvsGestureSplit(tmp.path().string(), "train", 2, cache, 0, &third));
  EXPECT_NE(third.outcome, FrameCacheOutcome::kHit);
  EXPECT_EQ(rebuilt.size, 1);
  // A limit never uses the cache.
  FrameCacheReport limited;
  ASSERT_OK(
      LoadDvsGestureSplit(tmp.path().string(), "train", 2, cache, 1, &limited).status());
  EXPECT_EQ(limited.outcome, FrameCacheOutcome::kNotUsed);
}

TEST(Cifar10Dvs, TheFramesAreCached) {
  testing::TempDir tmp("dvs");
  for (const char* c : {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                        "horse", "ship", "truck"}) {
    Write(tmp / c / "a.aedat", kHeader20 + Event20(3, 4, 0, 1));
  }
  FrameCacheReport first, second;
  const std::string cache = (tmp / "cache").string();
  ASSERT_OK_AND_ASSIGN(const DataSplits built,
                       LoadCifar10Dvs(tmp.path().string(), 1, cache, 0, &first));
  ASSERT_OK_AND_ASSIGN(const DataSplits cached,
                       LoadCifar10Dvs(tmp.path().string(), 1, cache, 0, &second));
  EXPECT_EQ(first.outcome, FrameCacheOutcome::kMissing);
  EXPECT_EQ(second.outcome, FrameCacheOutcome::kHit);
  EXPECT_EQ(cached.train.labels, built.train.labels);
  EXPECT_EQ(cached.train.frame_counts, built.train.frame_counts);
  EXPECT_EQ(cached.train.size, 10);
  EXPECT_EQ(cached.test.size, 0);
}

// §11: the Gesture training transform on frames whose values say where they came from.
TEST(GestureTrainingFrames, KeepsFramesInOrderAndCropsFlipsAndResizesByNearest) {
  // Temporal deletion alone: 1x1 frames (every crop is the whole frame), value = t.
  constexpr int64_t kFrames = 6, kKept = 4;
  std::vector<float> in(kFrames);
  for (int64_t t = 0; t < kFrames; ++t) in[t] = static_cast<float>(t);
  std::vector<int> chosen(kFrames, 0);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> out(kKept, -1.0f);
    GestureTrainingFrames(in.data(), kFrames, 1, 1, 1, kKept, rng, out.data());
    for (int64_t k = 0; k < kKept; ++k) {
      ASSERT_GE(out[k], 0.0f);
      if (k > 0) {
        ASSERT_LT(out[k - 1], out[k]) << "frames keep their order, no repeat";
      }
      ++chosen[static_cast<size_t>(out[k])];
    }
  }
  // Every frame is kept about 4/6 of the time (200 draws: 133 expected).
  for (int count : chosen) EXPECT_NEAR(count, 133, 40);

  // Crop, resize and flip: 8x8 frames whose value is the column (x), row-independent.
  constexpr int64_t kSide = 8;
  std::vector<float> image(kSide * kSide);
  for (int64_t y = 0; y < kSide; ++y) {
    for (int64_t x = 0; x < kSide; ++x) image[y * kSide + x] = static_cast<float>(x);
  }
  int flipped = 0, cropped = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> out(kSide * kSide);
    GestureTrainingFrames(image.data(), 1, 1, kSide, kSide, 1, rng, out.data());
    const float first = out[0], last = out[kSide - 1];
    for (int64_t y = 0; y < kSide; ++y) {
      for (int64_t x = 0; x < kSide; ++x) {
        // Rows are copies of one row (nearest neighbour of a row-independent image).
        ASSERT_EQ(out[y * kSide + x], out[x]) << seed;
        // Monotone along x: increasing, or decreasing when mirrored.
        if (x > 0) {
          ASSERT_TRUE(first <= last ? out[x - 1] <= out[x] : out[x - 1] >= out[x])
              << seed;
        }
      }
    }
    flipped += first > last;
    // The crop holds at least half the area: it spans at least 3 of the 8 columns.
    const float lo = std::min(first, last), hi = std::max(first, last);
    ASSERT_GE(hi - lo, 2.0f) << seed;
    cropped += hi - lo < 7.0f;
  }
  EXPECT_NEAR(flipped, 100, 30);  // p = 1/2
  EXPECT_GT(cropped, 100);        // most boxes are smaller than the frame
}

TEST(GestureTrainingFrames, TheLoaderKeepsTTrainFramesInTrainingOnly) {
  testing::TempDir tmp("dvs");
  Write(tmp / "user01_led.aedat", Gesture31());
  Write(tmp / "user01_led_labels.csv", "class,s,e\n1,0,2147483660\n3,10,30\n");
  Write(tmp / "trials_to_train.txt", "user01_led.aedat\n");
  ASSERT_OK_AND_ASSIGN(const Dataset ds,
                       LoadDvsGestureSplit(tmp.path().string(), "train", 4, "", 0));
  BatchLoader train(ds, {.batch_size = 2, .augment = true, .seed = 3, .frames_kept = 3});
  const Batch a = *train.Next();
  EXPECT_EQ(a.frames, 3);
  EXPECT_EQ(a.images.size(), 2u * 3 * 2 * 128 * 128);
  // Every event of sample 0 (5 of them) lands somewhere unless cropped away: at most 5.
  const float total =
      std::accumulate(a.images.begin(), a.images.begin() + 3 * 2 * 128 * 128, 0.0f);
  EXPECT_LE(total, 5.0f * 4);  // nearest resizing can repeat a pixel, at most 4x here
  BatchLoader test(ds, {.batch_size = 2});
  const Batch b = *test.Next();
  EXPECT_EQ(b.frames, 4);
  EXPECT_EQ(std::accumulate(b.images.begin(), b.images.begin() + 4 * 2 * 128 * 128, 0.0f),
            5.0f);
}

TEST(DvsFrames, AnEventOutsideTheSensorIsNamed) {
  const std::vector<DvsEvent> events = {{1, 1, 0, 0}, {128, 3, 1, 1}};
  const absl::Status s = DvsFrames(events, 2).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("event 1 at (128, 3) is outside the 128x128 sensor"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace edbp::data

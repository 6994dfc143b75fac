// TensorBoard event files: TFRecord framing with masked CRC-32C, checked by a reader
// written independently of the writer (bitwise CRC), Events decoded by protobuf.
#include "core/train/tensorboard.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensorboard_event.pb.h"

namespace edbp::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
namespace tb = ::edbp::testing::tensorboard;

// CRC-32C bit by bit (no table), for the reader.
uint32_t BitwiseCrc32c(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

template <typename T>
T Little(const std::string& bytes, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return v;
}

// Reads every record of a TFRecord file, verifying both CRCs. On a framing or CRC
// error returns what was read before and sets *error.
std::vector<tb::Event> ReadEvents(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  std::vector<tb::Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 12) {
      *error = "truncated header";
      return events;
    }
    const uint64_t length = Little<uint64_t>(bytes, at);
    if (Little<uint32_t>(bytes, at + 8) != Mask(BitwiseCrc32c(bytes.substr(at, 8)))) {
      *error = "length crc mismatch";
      return events;
    }
    if (bytes.size() - at - 12 < length + 4) {
      *error = "truncated data";
      return events;
    }
    const std::string data = bytes.substr(at + 12, length);
    if (Little<uint32_t>(bytes, at + 12 + length) != Mask(BitwiseCrc32c(data))) {
      *error = "data crc mismatch";
      return events;
    }
    tb::Event event;
    if (!event.ParseFromString(data)) {
      *error = "not an Event";
      return events;
    }
    events.push_back(event);
    at += 12 + length + 4;
  }
  return events;
}

std::map<std::string, float> Values(const tb::Event& event) {
  std::map<std::string, float> values;
  for (const tb::SummaryValue& v : event.summary().value())
    values[v.tag()] = v.simple_value();
  return values;
}

class TensorBoardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edbp-tb-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);            // the CRC-32C check value
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(MaskedCrc32c("123456789"), Mask(0xE3069283u));
}

TEST_F(TensorBoardTest, WritesReadableScalars) {
  auto writer = TensorBoardWriter::Open((dir_ / "tb").string());
  ASSERT_TRUE(writer.ok()) << writer.status();
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_THAT(fs::path((*writer)->path()).filename().string(),
              MatchesRegex(std::string("events\\.out\\.tfevents\\.[0-9]+\\.") + host));
  ASSERT_TRUE((*writer)->WriteScalars(3, {{"train/loss", 0.25f}, {"lr", 5e-4f}}).ok());
  ASSERT_TRUE((*writer)->WriteScalars(1ll << 40, {{"big", -1.5f}}).ok());

  std::string error;
  const std::vector<tb::Event> events = ReadEvents((*writer)->path(), &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.7e9);  // seconds since 1970, after 2023
  EXPECT_EQ(events[1].step(), 3);
  EXPECT_EQ(Values(events[1]),
            (std::map<std::string, float>{{"lr", 5e-4f}, {"train/loss", 0.25f}}));
  EXPECT_EQ(events[1].summary().value(0).tag(), "train/loss");  // order kept
  EXPECT_EQ(events[2].step(), 1ll << 40);
  EXPECT_EQ(Values(events[2]).at("big"), -1.5f);
  // edbp's own reader (for resumed runs) agrees with the independent one.
  const std::vector<TensorBoardScalar> read = ReadTensorBoardScalars((*writer)->path());
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].step, 3);
  EXPECT_EQ(read[0].tag, "train/loss");
  EXPECT_EQ(read[0].value, 0.25f);
  EXPECT_EQ(read[1].tag, "lr");
  EXPECT_EQ(read[1].value, 5e-4f);
  EXPECT_EQ(read[2].step, 1ll << 40);
  EXPECT_EQ(read[2].value, -1.5f);
  EXPECT_TRUE(ReadTensorBoardScalars((dir_ / "missing").string()).empty());
}

TEST_F(TensorBoardTest, ReaderDetectsACorruptedByte) {
  auto writer = TensorBoardWriter::Open(dir_.string());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->WriteScalars(1, {{"x", 1.0f}}).ok());
  const std::string path = (*writer)->path();
  writer->reset();
  const auto size = fs::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(size - 6));  // inside the last record's data
  f.put('\x7f');
  f.close();
  std::string error;
  EXPECT_EQ(ReadEvents(path, &error).size(), 1u);
  EXPECT_EQ(error, "data crc mismatch");
}

TEST_F(TensorBoardTest, SinkWritesEpochAndProgressScalars) {
  auto writer = TensorBoardWriter::Open(dir_.string());
  ASSERT_TRUE(writer.ok());
  const std::string path = (*writer)->path();
  {
    TensorBoardSink sink(*std::move(writer));
    ProgressRecord progress;
    progress.epoch = 2;
    progress.batch = 5;
    progress.batches = 10;
    progress.running_loss = 0.75;
    progress.running_accuracy = 0.5;
    sink.OnProgress(progress);
    EpochMetrics m;
    m.epoch = 2;
    m.train_loss = 0.5;
    m.train_accuracy = 0.875;
    m.test_loss = 0.625;
    m.test_accuracy = 0.8125;
    m.learning_rate = 0.001;
    m.seconds = 12.5;
    m.layers.resize(2);
    m.layers[0].name = "conv_1";
    m.layers[0].grad_norm = 0.25;
    m.layers[0].firing_rate = 0.125;
    m.layers[0].update_ratio = 0.001;
    m.layers[1].name = "FC_1";
    m.layers[1].grad_norm = 2.0;
    m.layers[1].firing_rate = 0.0625;
    m.layers[1].silent_fraction = 0.5;
    sink.OnEpoch(m);
  }
  std::string error;
  const std::vector<tb::Event> events = ReadEvents(path, &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].step(), 15);  // (2 - 1) * 10 + 5
  EXPECT_EQ(Values(events[1]),
            (std::map<std::string, float>{{"progress/running_accuracy", 0.5f},
                                          {"progress/running_loss", 0.75f}}));
  EXPECT_EQ(events[2].step(), 2);
  // The names of statistics.h: the epoch's (but the counts) and every layer statistic
  // per layer, firing rates included.
  const std::map<std::string, float> values = Values(events[2]);
  EXPECT_EQ(values.size(), 8u + 9u * 2u);
  const std::map<std::string, float> expected = {
      {"train_loss", 0.5f},
      {"train_accuracy", 0.875f},
      {"test_loss", 0.625f},
      {"test_accuracy", 0.8125f},
      {"learning_rate", 0.001f},
      {"seconds", 12.5f},
      {"train_samples_per_second", 0.0f},
      {"test_samples_per_second", 0.0f},
      {"grad_norm/conv_1", 0.25f},
      {"grad_norm/FC_1", 2.0f},
      {"firing_rate/conv_1", 0.125f},
      {"firing_rate/FC_1", 0.0625f},
      {"silent_fraction/FC_1", 0.5f},
      {"update_ratio/conv_1", 0.001f},
  };
  for (const auto& [tag, value] : expected) {
    ASSERT_TRUE(values.contains(tag)) << tag;
    EXPECT_EQ(values.at(tag), value) << tag;
  }
  for (const char* gone :
       {"lr", "epoch_seconds", "train/loss", "epoch", "train_samples"}) {
    EXPECT_FALSE(values.contains(gone)) << gone;
  }
}

// The steps of every event file of `dir` per tag, from the independent reader.
std::map<std::string, std::vector<int64_t>> StepsPerTag(const fs::path& dir) {
  std::map<std::string, std::vector<int64_t>> steps;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string error;
    for (const tb::Event& event : ReadEvents(entry.path().string(), &error)) {
      for (const tb::SummaryValue& v : event.summary().value()) {
        steps[v.tag()].push_back(event.step());
      }
    }
  }
  for (auto& [tag, list] : steps) std::sort(list.begin(), list.end());
  return steps;
}

EpochMetrics Epoch(int64_t epoch, double loss) {
  EpochMetrics m;
  m.epoch = epoch;
  m.epochs = 4;
  m.train_loss = loss;
  m.layers.resize(1);
  m.layers[0].name = "conv_1";
  m.layers[0].firing_rate = 0.25 * static_cast<double>(epoch);
  return m;
}

ProgressRecord Progress(int64_t epoch, int64_t batch) {
  return {.epoch = epoch, .batch = batch, .batches = 2, .running_loss = 1.0};
}

// A run killed after epoch 2 and its progress into epoch 3, resumed from the checkpoint
// of epoch 2 (in a new file, as a new process opens one): the resumed part repeats
// epoch 3's progress and leaves it out; every step is in the directory once.
TEST_F(TensorBoardTest, AResumedRunWritesNoStepTwice) {
  const fs::path tb = dir_ / "tb";
  EXPECT_TRUE(LastWrittenSteps(tb.string()).empty());  // no directory yet
  {
    auto writer = TensorBoardWriter::Open(tb.string());
    ASSERT_TRUE(writer.ok());
    fs::rename((*writer)->path(), tb / "events.out.tfevents.1.first");
    TensorBoardSink first(*std::move(writer));
    for (int64_t e = 1; e <= 2; ++e) {
      first.OnProgress(Progress(e, 1));
      first.OnProgress(Progress(e, 2));
      first.OnEpoch(Epoch(e, 1.0));
    }
    first.OnProgress(Progress(3, 1));  // then killed
  }
  const std::map<std::string, int64_t> written = LastWrittenSteps(tb.string());
  EXPECT_EQ(written.at("train_loss"), 2);
  EXPECT_EQ(written.at("firing_rate/conv_1"), 2);
  EXPECT_EQ(written.at("progress/running_loss"), 5);  // (3 - 1) * 2 + 1
  EXPECT_FALSE(written.contains("brain.Event:2"));    // the file_version is no tag
  {
    auto writer = TensorBoardWriter::Open(tb.string());
    ASSERT_TRUE(writer.ok());
    TensorBoardSink resumed(*std::move(writer), written);
    for (int64_t e = 3; e <= 4; ++e) {
      resumed.OnProgress(Progress(e, 1));
      resumed.OnProgress(Progress(e, 2));
      resumed.OnEpoch(Epoch(e, 2.0));
    }
  }
  const auto steps = StepsPerTag(tb);
  EXPECT_EQ(steps.at("train_loss"), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(steps.at("firing_rate/conv_1"), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(steps.at("progress/running_loss"),
            (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(LastWrittenSteps(tb.string()).at("train_loss"), 4);
}

// A run resumed twice from the same checkpoint (the second resume repeats what the first
// wrote): still every step once.
TEST_F(TensorBoardTest, ResumingTwiceFromOneCheckpointWritesNoStepTwice) {
  const fs::path tb = dir_ / "tb";
  for (int run = 0; run < 3; ++run) {
    const auto written = LastWrittenSteps(tb.string());
    auto writer = TensorBoardWriter::Open(tb.string());
    ASSERT_TRUE(writer.ok());
    fs::rename((*writer)->path(), tb / ("events.out.tfevents." + std::to_string(run)));
    TensorBoardSink sink(*std::move(writer), written);
    for (int64_t e = 1; e <= 2 + run; ++e) sink.OnEpoch(Epoch(e, run));
  }
  EXPECT_EQ(StepsPerTag(tb).at("train_loss"), (std::vector<int64_t>{1, 2, 3, 4}));
}

// A file torn mid-record (kill -9 during a write) and garbage next to it: the steps of
// the complete records count, the rest is ignored.
TEST_F(TensorBoardTest, LastWrittenStepsStopsAtATornRecord) {
  const fs::path tb = dir_ / "tb";
  std::string path;
  {
    auto writer = TensorBoardWriter::Open(tb.string());
    ASSERT_TRUE(writer.ok());
    path = (*writer)->path();
    ASSERT_TRUE((*writer)->WriteScalars(7, {{"a", 1.0f}}).ok());
    ASSERT_TRUE((*writer)->WriteScalars(9, {{"a", 1.0f}, {"b", 2.0f}}).ok());
  }
  fs::resize_file(path, fs::file_size(path) - 3);
  std::ofstream(tb / "events.out.tfevents.2.garbage") << std::string(40, '\xff');
  std::ofstream(tb / "other.txt") << "not an event file";
  // A record whose length claims more bytes than the file has.
  std::string lying(8, '\0');
  lying[7] = '\x7f';
  lying += std::string(8, '\0');
  std::ofstream(tb / "events.out.tfevents.3.lying", std::ios::binary) << lying;
  const std::map<std::string, int64_t> written = LastWrittenSteps(tb.string());
  EXPECT_EQ(written, (std::map<std::string, int64_t>{{"a", 7}}));
}

// Issue 19: the test pass's progress goes to its own tags, on a step axis of its
// batches (its running values are the test split's).
TEST_F(TensorBoardTest, TestPassProgressHasItsOwnTags) {
  auto writer = TensorBoardWriter::Open(dir_.string());
  ASSERT_TRUE(writer.ok());
  const std::string path = (*writer)->path();
  {
    TensorBoardSink sink(*std::move(writer));
    ProgressRecord progress;
    progress.epoch = 3;
    progress.batch = 2;
    progress.batches = 4;
    progress.running_loss = 0.25;
    progress.running_accuracy = 0.75;
    progress.phase = Phase::kTest;
    sink.OnProgress(progress);
  }
  std::string error;
  const std::vector<tb::Event> events = ReadEvents(path, &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].step(), 10);  // (3 - 1) * 4 + 2
  EXPECT_EQ(Values(events[1]),
            (std::map<std::string, float>{{"progress/test_running_accuracy", 0.75f},
                                          {"progress/test_running_loss", 0.25f}}));
}

TEST_F(TensorBoardTest, OpenErrorNamesThePath) {
  std::ofstream(dir_ / "file") << "x";
  auto writer = TensorBoardWriter::Open((dir_ / "file" / "tb").string());
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(),
              HasSubstr("cannot create " + (dir_ / "file" / "tb").string()));
}

}  // namespace
}  // namespace edbp::train

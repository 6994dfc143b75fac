// TensorBoard event files: TFRecord framing with masked CRC-32C, checked by a reader
// written independently of the writer (bitwise CRC), Events decoded by protobuf.
#include "core/train/tensorboard.h"

#include <sys/stat.h>
#include <unistd.h>

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
    m.layers[1].name = "FC_1";
    m.layers[1].grad_norm = 2.0;
    sink.OnEpoch(m);
  }
  std::string error;
  const std::vector<tb::Event> events = ReadEvents(path, &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].step(), 15);  // (2 - 1) * 10 + 5
  EXPECT_EQ(Values(events[1]), (std::map<std::string, float>{{"progress/accuracy", 0.5f},
                                                             {"progress/loss", 0.75f}}));
  EXPECT_EQ(events[2].step(), 2);
  EXPECT_EQ(Values(events[2]), (std::map<std::string, float>{{"epoch_seconds", 12.5f},
                                                             {"grad_norm/FC_1", 2.0f},
                                                             {"grad_norm/conv_1", 0.25f},
                                                             {"lr", 0.001f},
                                                             {"test/accuracy", 0.8125f},
                                                             {"test/loss", 0.625f},
                                                             {"train/accuracy", 0.875f},
                                                             {"train/loss", 0.5f}}));
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
            (std::map<std::string, float>{{"progress/test_accuracy", 0.75f},
                                          {"progress/test_loss", 0.25f}}));
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

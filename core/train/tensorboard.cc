#include "core/train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace edbp::train {
namespace {

constexpr uint32_t kCrc32cPoly = 0x82F63B78;  // reflected Castagnoli polynomial
constexpr uint32_t kMaskDelta = 0xa282ead8;

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCrc32cPoly : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

// Protobuf wire format: tag = field << 3 | wire type (0 varint, 1 fixed64, 2 bytes,
// 5 fixed32).
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void PutFixed(std::string& out, const void* bytes, size_t n) {
  // Little endian on the hosts we build for (x86-64, aarch64).
  out.append(static_cast<const char*>(bytes), n);
}
void PutBytesField(std::string& out, int field, absl::string_view bytes) {
  PutVarint(out, static_cast<uint64_t>(field) << 3 | 2);
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

std::string EventHeader(int64_t step) {
  std::string event;
  const double wall_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  event.push_back(static_cast<char>(1 << 3 | 1));  // wall_time, fixed64
  PutFixed(event, &wall_time, sizeof(wall_time));
  event.push_back(static_cast<char>(2 << 3 | 0));  // step, varint
  PutVarint(event, static_cast<uint64_t>(step));
  return event;
}

absl::Status IoError(const std::string& what, const std::string& path, int err) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == EACCES || err == EPERM || err == EROFS)
    return absl::PermissionDeniedError(message);
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

}  // namespace

uint32_t Crc32c(absl::string_view data) {
  uint32_t c = 0xFFFFFFFF;
  for (unsigned char byte : data) c = kCrcTable[(c ^ byte) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFF;
}

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t c = Crc32c(data);
  return ((c >> 15) | (c << 17)) + kMaskDelta;
}

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::Open(
    const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create", dir, ec.value());
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::strcpy(host, "localhost");
  }
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  const std::string path = (std::filesystem::path(dir) /
                            absl::StrCat("events.out.tfevents.", seconds, ".", host))
                               .string();
  std::FILE* file = std::fopen(path.c_str(), "ab");
  if (file == nullptr) return IoError("cannot create", path, errno);
  std::unique_ptr<TensorBoardWriter> writer(new TensorBoardWriter(file, path));
  std::string event = EventHeader(0);
  PutBytesField(event, 3, "brain.Event:2");  // file_version
  if (absl::Status s = writer->WriteRecord(event); !s.ok()) return s;
  return writer;
}

TensorBoardWriter::~TensorBoardWriter() { std::fclose(file_); }

absl::Status TensorBoardWriter::WriteScalars(
    int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    PutBytesField(v, 1, tag);
    v.push_back(static_cast<char>(2 << 3 | 5));  // simple_value, fixed32
    PutFixed(v, &value, sizeof(value));
    PutBytesField(summary, 1, v);
  }
  std::string event = EventHeader(step);
  PutBytesField(event, 5, summary);
  return WriteRecord(event);
}

absl::Status TensorBoardWriter::WriteRecord(absl::string_view data) {
  const uint64_t length = data.size();
  std::string record;
  PutFixed(record, &length, sizeof(length));
  const uint32_t length_crc = MaskedCrc32c(record);
  PutFixed(record, &length_crc, sizeof(length_crc));
  record.append(data.data(), data.size());
  const uint32_t data_crc = MaskedCrc32c(data);
  PutFixed(record, &data_crc, sizeof(data_crc));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0) {
    return IoError("cannot write", path_, errno);
  }
  return absl::OkStatus();
}

void TensorBoardSink::OnProgress(const ProgressRecord& r) {
  // The test pass's running values are another split's, on a step axis of its batches.
  const bool test = r.phase == Phase::kTest;
  Write((r.epoch - 1) * r.batches + r.batch,
        {{test ? "progress/test_loss" : "progress/loss",
          static_cast<float>(r.running_loss)},
         {test ? "progress/test_accuracy" : "progress/accuracy",
          static_cast<float>(r.running_accuracy)}});
}

void TensorBoardSink::OnEpoch(const EpochMetrics& m) {
  std::vector<std::pair<std::string, float>> scalars = {
      {"train/loss", static_cast<float>(m.train_loss)},
      {"train/accuracy", static_cast<float>(m.train_accuracy)},
      {"test/loss", static_cast<float>(m.test_loss)},
      {"test/accuracy", static_cast<float>(m.test_accuracy)},
      {"lr", static_cast<float>(m.learning_rate)},
      {"epoch_seconds", static_cast<float>(m.seconds)},
  };
  for (const LayerStats& layer : m.layers) {
    scalars.emplace_back("grad_norm/" + layer.name, static_cast<float>(layer.grad_norm));
  }
  Write(m.epoch, scalars);
}

void TensorBoardSink::Write(int64_t step,
                            const std::vector<std::pair<std::string, float>>& scalars) {
  if (writer_ == nullptr) return;
  const absl::Status written = writer_->WriteScalars(step, scalars);
  if (!written.ok()) {
    const std::string message(written.message());
    std::fprintf(stderr, "edbp-train: tensorboard: %s; no more events are written\n",
                 message.c_str());
    writer_.reset();
  }
}

}  // namespace edbp::train

#include "core/train/tensorboard.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/train/statistics.h"

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

// Reads a varint at `at`; false past the end or beyond 10 bytes.
bool GetVarint(absl::string_view data, size_t& at, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && at < data.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(data[at++]);
    v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// One field of a protobuf message: its number, and its value (a varint, or the bytes
// of a length-delimited or fixed field). False on malformed input.
struct Field {
  uint64_t number = 0;
  uint64_t varint = 0;
  absl::string_view bytes;
};
bool GetField(absl::string_view data, size_t& at, Field& f) {
  uint64_t key = 0;
  if (!GetVarint(data, at, key)) return false;
  f.number = key >> 3;
  size_t n = 0;
  switch (key & 7) {
    case 0:
      return GetVarint(data, at, f.varint);
    case 1:
      n = 8;
      break;
    case 2: {
      uint64_t length = 0;
      if (!GetVarint(data, at, length)) return false;
      n = static_cast<size_t>(length);
      if (length > data.size()) return false;
      break;
    }
    case 5:
      n = 4;
      break;
    default:
      return false;
  }
  if (data.size() - at < n) return false;
  f.bytes = data.substr(at, n);
  at += n;
  return true;
}

// The simple values of one serialized Event into `out` (nothing for an event without
// a summary). False when the event is malformed.
bool AddScalars(absl::string_view event, std::vector<TensorBoardScalar>& out) {
  int64_t step = 0;
  std::vector<std::pair<std::string, float>> values;
  Field f;
  for (size_t at = 0; at < event.size();) {
    if (!GetField(event, at, f)) return false;
    if (f.number == 2) step = static_cast<int64_t>(f.varint);
    if (f.number != 5) continue;
    for (size_t v = 0; v < f.bytes.size();) {  // Summary: repeated Value value = 1
      Field value;
      if (!GetField(f.bytes, v, value)) return false;
      if (value.number != 1) continue;
      std::pair<std::string, float> scalar;
      for (size_t t = 0; t < value.bytes.size();) {  // Value: tag = 1, simple_value = 2
        Field field;
        if (!GetField(value.bytes, t, field)) return false;
        if (field.number == 1) scalar.first = std::string(field.bytes);
        if (field.number == 2 && field.bytes.size() == sizeof(float)) {
          std::memcpy(&scalar.second, field.bytes.data(), sizeof(float));
        }
      }
      values.push_back(std::move(scalar));
    }
  }
  for (auto& [tag, value] : values) out.push_back({step, std::move(tag), value});
  return true;
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

std::vector<TensorBoardScalar> ReadTensorBoardScalars(const std::string& path) {
  std::vector<TensorBoardScalar> scalars;
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  const absl::string_view data(bytes);
  for (size_t at = 0; data.size() - at >= 12;) {
    uint64_t length = 0;
    std::memcpy(&length, data.data() + at, sizeof(length));
    uint32_t crc = 0;
    std::memcpy(&crc, data.data() + at + 8, sizeof(crc));
    if (crc != MaskedCrc32c(data.substr(at, 8)) || data.size() - at - 12 < length ||
        data.size() - at - 12 - length < 4) {
      break;
    }
    const absl::string_view event = data.substr(at + 12, length);
    std::memcpy(&crc, data.data() + at + 12 + length, sizeof(crc));
    std::vector<TensorBoardScalar> these;
    if (crc != MaskedCrc32c(event) || !AddScalars(event, these)) break;
    for (TensorBoardScalar& s : these) scalars.push_back(std::move(s));
    at += 12 + length + 4;
  }
  return scalars;
}

std::map<std::string, int64_t> LastWrittenSteps(const std::string& dir) {
  std::map<std::string, int64_t> steps;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.path().filename().string().starts_with("events.out.tfevents.")) continue;
    for (const TensorBoardScalar& s : ReadTensorBoardScalars(entry.path().string())) {
      auto [it, inserted] = steps.emplace(s.tag, s.step);
      if (!inserted) it->second = std::max(it->second, s.step);
    }
  }
  return steps;
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
        {{test ? "progress/test_running_loss" : "progress/running_loss",
          static_cast<float>(r.running_loss)},
         {test ? "progress/test_running_accuracy" : "progress/running_accuracy",
          static_cast<float>(r.running_accuracy)}});
}

void TensorBoardSink::OnEpoch(const EpochMetrics& m) {
  std::vector<std::pair<std::string, float>> scalars;
  for (const EpochStatistic& s : EpochStatistics()) {
    if (s.format == StatisticFormat::kInteger) continue;  // epoch, epochs, samples
    scalars.emplace_back(std::string(s.name), static_cast<float>(s.get(m)));
  }
  for (const LayerStatistic& s : LayerStatistics()) {
    for (const LayerStats& layer : m.layers) {
      scalars.emplace_back(std::string(s.name) + "/" + layer.name,
                           static_cast<float>(s.get(layer)));
    }
  }
  Write(m.epoch, std::move(scalars));
}

void TensorBoardSink::Write(int64_t step,
                            std::vector<std::pair<std::string, float>> scalars) {
  if (writer_ == nullptr) return;
  std::erase_if(scalars, [&](const std::pair<std::string, float>& scalar) {
    const auto it = written_.find(scalar.first);
    return it != written_.end() && step <= it->second;
  });
  if (scalars.empty()) return;
  const absl::Status written = writer_->WriteScalars(step, scalars);
  if (!written.ok()) {
    const std::string message(written.message());
    std::fprintf(stderr, "edbp-train: tensorboard: %s; no more events are written\n",
                 message.c_str());
    writer_.reset();
  }
}

}  // namespace edbp::train

#include "core/data/aedat.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/check.h"  // EDBP_ASSIGN_OR_RETURN
#include "core/data/regular_file.h"

namespace edbp::data {
namespace {

namespace fs = std::filesystem;

// Event files of the two data sets are tens of MB; anything past this is not one.
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 32;
constexpr uint64_t kMaxEvents = uint64_t{1} << 31;

// The whole of a regular file, its size checked before it is read.
absl::StatusOr<std::string> ReadRegularFile(const std::string& path) {
  EDBP_ASSIGN_OR_RETURN(OpenedFile file, OpenRegularFile(path));
  if (file.size > kMaxFileBytes) {
    return absl::DataLossError(absl::StrCat(path, ": ", file.size,
                                            " bytes, expected at most ", kMaxFileBytes,
                                            " for an event file"));
  }
  std::string bytes(static_cast<size_t>(file.size), '\0');
  if (!file.in.read(bytes.data(), static_cast<std::streamsize>(file.size))) {
    return absl::DataLossError(absl::StrCat(path, ": read failed"));
  }
  return bytes;
}

// The offset just after the header's lines that start with '#'; with `end_marker`,
// the header must end with that line (CR LF or LF), else DATA_LOSS.
absl::StatusOr<size_t> SkipHeader(const std::string& path, const std::string& bytes,
                                  const char* end_marker) {
  size_t at = 0;
  while (at < bytes.size() && bytes[at] == '#') {
    const size_t newline = bytes.find('\n', at);
    if (newline == std::string::npos) {
      return absl::DataLossError(
          absl::StrCat(path, ": the header line at byte ", at, " has no end"));
    }
    absl::string_view line(bytes.data() + at, newline - at);
    absl::ConsumeSuffix(&line, "\r");
    at = newline + 1;
    if (end_marker != nullptr && line == end_marker) return at;
  }
  if (end_marker != nullptr) {
    return absl::DataLossError(
        absl::StrCat(path, ": no \"", end_marker, "\" line ends the header"));
  }
  return at;
}

template <typename T>
T LittleEndian(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86 and ARM Linux are little-endian
  return v;
}

uint32_t BigEndianU32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

}  // namespace

absl::StatusOr<std::vector<DvsEvent>> ReadAedat31(const std::string& path) {
  EDBP_ASSIGN_OR_RETURN(const std::string bytes, ReadRegularFile(path));
  EDBP_ASSIGN_OR_RETURN(size_t at, SkipHeader(path, bytes, "#!END-HEADER"));
  constexpr size_t kPacketHeader = 28;
  // First pass: check every packet and count the events, so that the vector is
  // allocated once, at its size.
  uint64_t total = 0;
  for (size_t p = at; p < bytes.size();) {
    if (bytes.size() - p < kPacketHeader) {
      return absl::DataLossError(absl::StrCat(path, ": the packet header at byte ", p,
                                              " is cut after ", bytes.size() - p,
                                              " of 28 bytes"));
    }
    const int16_t type = LittleEndian<int16_t>(&bytes[p]);
    const int32_t size = LittleEndian<int32_t>(&bytes[p + 4]);
    const int32_t capacity = LittleEndian<int32_t>(&bytes[p + 16]);
    if (size < 0 || capacity < 0) {
      return absl::DataLossError(absl::StrCat(path, ": the packet at byte ", p,
                                              " has eventSize ", size, " and capacity ",
                                              capacity, "; expected both >= 0"));
    }
    const uint64_t payload = uint64_t(size) * uint64_t(capacity);
    if (payload > bytes.size() - p - kPacketHeader) {
      return absl::DataLossError(
          absl::StrCat(path, ": the packet at byte ", p, " announces ", capacity,
                       " events of ", size, " bytes, but the file has ",
                       bytes.size() - p - kPacketHeader, " bytes after its header"));
    }
    if (type == 1) {
      if (size != 8) {
        return absl::DataLossError(absl::StrCat(path, ": the polarity packet at byte ", p,
                                                " has eventSize ", size, ", expected 8"));
      }
      total += uint64_t(capacity);
      if (total > kMaxEvents) {
        return absl::DataLossError(
            absl::StrCat(path, ": more than ", kMaxEvents, " events"));
      }
    }
    p += kPacketHeader + payload;
  }
  std::vector<DvsEvent> events;
  events.reserve(total);
  while (at < bytes.size()) {
    const int16_t type = LittleEndian<int16_t>(&bytes[at]);
    const int32_t size = LittleEndian<int32_t>(&bytes[at + 4]);
    const int32_t overflow = LittleEndian<int32_t>(&bytes[at + 12]);
    const int32_t capacity = LittleEndian<int32_t>(&bytes[at + 16]);
    const char* e = &bytes[at + kPacketHeader];
    if (type == 1) {
      for (int32_t i = 0; i < capacity; ++i, e += 8) {
        const uint32_t data = LittleEndian<uint32_t>(e);
        const int32_t stamp = LittleEndian<int32_t>(e + 4);
        events.push_back({.x = static_cast<uint16_t>((data >> 17) & 0x7FFF),
                          .y = static_cast<uint16_t>((data >> 2) & 0x7FFF),
                          .polarity = static_cast<uint8_t>((data >> 1) & 1),
                          .t = int64_t{stamp} | (int64_t{overflow} << 31)});
      }
    }
    at += kPacketHeader + size_t(size) * size_t(capacity);
  }
  return events;
}

absl::StatusOr<std::vector<DvsEvent>> ReadAedat20(const std::string& path) {
  EDBP_ASSIGN_OR_RETURN(const std::string bytes, ReadRegularFile(path));
  EDBP_ASSIGN_OR_RETURN(const size_t at, SkipHeader(path, bytes, nullptr));
  const size_t data = bytes.size() - at;
  if (data % 8 != 0) {
    return absl::DataLossError(absl::StrCat(
        path, ": expected whole 8-byte events after the ", at, "-byte header, got ", data,
        " bytes: the last event is cut after ", data % 8, " bytes"));
  }
  std::vector<DvsEvent> events(data / 8);
  const char* p = bytes.data() + at;
  for (DvsEvent& e : events) {
    const uint32_t address = BigEndianU32(p);
    e.x = static_cast<uint16_t>((address & 0xFE) >> 1);
    e.y = static_cast<uint16_t>((address & 0x7F00) >> 8);
    e.polarity = static_cast<uint8_t>(address & 1);
    e.t = BigEndianU32(p + 4);
    p += 8;
  }
  return events;
}

absl::StatusOr<std::vector<GestureInterval>> ReadGestureLabels(const std::string& path) {
  EDBP_ASSIGN_OR_RETURN(const std::string text, ReadRegularFile(path));
  std::vector<GestureInterval> rows;
  int line_number = 0;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (header) {
      header = false;
      if (!line.empty() && (line[0] < '0' || line[0] > '9')) continue;  // column names
    }
    const std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    int64_t v[3] = {0, 0, 0};
    bool ok = fields.size() == 3;
    for (size_t i = 0; ok && i < 3; ++i) {
      const absl::string_view f = absl::StripAsciiWhitespace(fields[i]);
      const auto [end, error] = std::from_chars(f.data(), f.data() + f.size(), v[i]);
      ok = error == std::errc() && end == f.data() + f.size() && !f.empty();
    }
    const auto bad = [&](const std::string& why) {
      return absl::DataLossError(
          absl::StrCat(path, ":", line_number, ": ", why, ": \"", line, "\""));
    };
    if (!ok) return bad("expected class,startTime_usec,endTime_usec (three integers)");
    if (v[0] < 1 || v[0] > 11) return bad("expected a class from 1 to 11");
    if (v[2] < v[1]) return bad("the interval ends before it starts");
    rows.push_back({.label = static_cast<int32_t>(v[0] - 1), .start = v[1], .end = v[2]});
  }
  return rows;
}

}  // namespace edbp::data

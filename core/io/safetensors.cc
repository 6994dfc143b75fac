#include "core/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "nlohmann/json.hpp"

namespace edbp {
namespace {

// WriteSafeTensors writes <name>.tmp.XXXXXX (mkstemp) next to <name>, then renames it.
constexpr std::string_view kTempInfix = ".tmp.";
constexpr int kTempRandomChars = 6;  // mkstemp's XXXXXX

constexpr uint64_t kMaxHeaderBytes = 100 << 20;

absl::Status Corrupt(const std::string& path, const std::string& what) {
  return absl::DataLossError(
      absl::StrCat(path, ": not a valid safetensors file: ", what));
}

absl::Status WriteAll(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat(path, ": write failed: ", std::strerror(errno)));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// The parts of the header that edbp reads, built while the JSON is parsed (nlohmann's
// SAX interface) instead of from a json tree: a tree costs 11 to 36 times the header's
// bytes (16 MiB of nested brackets took 670 MB), this costs about what is kept. Values of
// keys edbp does not read are skipped without being stored, as the tree ignored them.
// Every entry is checked when its object ends, in the order the tree reader checked
// it: fields and their types, dtype, shape, data_offsets, size.
class HeaderReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  HeaderReader(const std::string& path, uint64_t data_size)
      : path_(path), data_size_(data_size) {}

  // The first error (set whenever a callback returned false).
  absl::Status status() const { return status_; }

  // DATA_LOSS unless the tensors' byte ranges tile the data exactly, as the format
  // requires: sorted by start, each non-empty range begins where the one before ends,
  // the first at 0, and the last ends at the end of the file. Overlapping ranges would
  // let a file ask for more memory than it holds (ten thousand names for one range);
  // a gap or trailing bytes are data no tensor owns (a file spliced or cut and padded).
  // An empty tensor owns no bytes and may sit anywhere in the data. Sorts the ranges by
  // their start.
  absl::Status CheckLayout() {
    std::sort(placed_.begin(), placed_.end(), [](const Placed& a, const Placed& b) {
      return std::tie(a.begin, *a.name) < std::tie(b.begin, *b.name);
    });
    auto where = [](const Placed& p) {
      return absl::StrCat(*p.name, " at [", p.begin, ",", p.end, ")");
    };
    const Placed* previous = nullptr;  // the last non-empty range so far
    uint64_t at = 0;                   // where it ends
    for (const Placed& p : placed_) {
      if (p.begin == p.end) continue;
      if (p.begin < at) {
        return Corrupt(path_, absl::StrCat("tensors ", where(*previous), " and ",
                                           where(p), " overlap"));
      }
      if (p.begin > at) {
        return Corrupt(
            path_, absl::StrCat("the data bytes [", at, ",", p.begin, ") ",
                                previous == nullptr
                                    ? "before tensor " + where(p)
                                    : absl::StrCat("between tensors ", where(*previous),
                                                   " and ", where(p)),
                                " belong to no tensor"));
      }
      previous = &p;
      at = p.end;
    }
    if (at != data_size_) {
      return Corrupt(
          path_, absl::StrCat("the data bytes [", at, ",", data_size_, ")",
                              previous == nullptr ? std::string()
                                                  : " after tensor " + where(*previous),
                              " belong to no tensor"));
    }
    return absl::OkStatus();
  }

  // Where each tensor's bytes are; `tensor` points into what TakeTensors() returns (a
  // moved std::map keeps its nodes).
  struct Placed {
    const std::string* name;
    HostTensor* tensor;
    uint64_t begin, end;
  };
  const std::vector<Placed>& placed() const { return placed_; }
  // The tensors (shapes, no data yet) and the metadata.
  SafeTensors TakeTensors() { return std::move(out_); }

  bool null() override { return Value(Kind::kOther); }
  bool boolean(bool) override { return Value(Kind::kOther); }
  bool number_integer(number_integer_t) override { return Value(Kind::kOther); }
  bool number_unsigned(number_unsigned_t v) override { return Value(Kind::kUnsigned, v); }
  bool number_float(number_float_t, const string_t&) override {
    return Value(Kind::kOther);
  }
  bool string(string_t& v) override { return Value(Kind::kString, 0, &v); }
  bool binary(binary_t&) override { return Value(Kind::kOther); }
  bool start_object(std::size_t) override { return Value(Kind::kObject); }
  bool start_array(std::size_t) override { return Value(Kind::kArray); }
  bool key(string_t& k) override {
    if (skip_ == 0) key_ = std::move(k);
    return true;
  }
  bool end_object() override { return End(); }
  bool end_array() override { return End(); }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    if (status_.ok()) status_ = Corrupt(path_, "the header is not a JSON object");
    return false;
  }

 private:
  // Edbp's tensors have at most 5 dimensions, and a metadata entry costs ~100 bytes
  // however short its text: bounds far above any file edbp writes (9 entries).
  static constexpr size_t kMaxRank = 64;
  static constexpr size_t kMaxMetadataEntries = 65536;

  enum class Kind { kUnsigned, kString, kOther, kObject, kArray };
  enum class In { kTop, kRoot, kMetadata, kEntry, kShape, kOffsets };
  // One tensor's fields as parsed; a repeated key replaces the earlier value.
  struct Entry {
    std::optional<std::string> dtype;  // when a string
    bool shape_is_array = false, offsets_is_array = false;
    std::vector<uint64_t> dims;  // at most kMaxRank
    size_t shape_count = 0;      // elements seen
    std::string shape_error;     // the first bad element
    size_t offsets_count = 0;
    bool offsets_bad = false;
    uint64_t offsets[2] = {0, 0};
  };

  bool Fail(absl::Status status) {
    status_ = std::move(status);
    return false;
  }

  // A value (a scalar, or the start of an object or array) in the current place.
  bool Value(Kind kind, uint64_t u = 0, std::string* s = nullptr) {
    if (skip_ > 0) {  // inside a value that is not read
      if (kind == Kind::kObject || kind == Kind::kArray) ++skip_;
      return true;
    }
    const bool container = kind == Kind::kObject || kind == Kind::kArray;
    switch (in_.back()) {
      case In::kTop:
        if (kind != Kind::kObject) {
          return Fail(Corrupt(path_, "the header is not a JSON object"));
        }
        in_.push_back(In::kRoot);
        return true;
      case In::kRoot:
        if (key_ == "__metadata__") {
          if (kind != Kind::kObject) {
            return Fail(Corrupt(path_, "__metadata__ is not an object"));
          }
          in_.push_back(In::kMetadata);
          return true;
        }
        if (kind != Kind::kObject) {
          return Fail(Corrupt(path_, absl::StrCat("tensor ", key_,
                                                  ": expected {dtype, shape, "
                                                  "data_offsets[2]}")));
        }
        name_ = key_;
        entry_ = Entry{};
        in_.push_back(In::kEntry);
        return true;
      case In::kMetadata:
        if (kind != Kind::kString) {
          return Fail(
              Corrupt(path_, absl::StrCat("metadata ", key_, " is not a string")));
        }
        if (out_.metadata.size() >= kMaxMetadataEntries &&
            !out_.metadata.contains(key_)) {
          return Fail(Corrupt(path_, absl::StrCat("more than ", kMaxMetadataEntries,
                                                  " metadata entries")));
        }
        out_.metadata[key_] = std::move(*s);
        return true;
      case In::kEntry:
        if (key_ == "dtype") {
          entry_.dtype.reset();
          if (kind == Kind::kString) entry_.dtype = std::move(*s);
        } else if (key_ == "shape") {
          entry_.shape_is_array = kind == Kind::kArray;
          entry_.dims.clear();
          entry_.shape_count = 0;
          entry_.shape_error.clear();
          if (entry_.shape_is_array) {
            in_.push_back(In::kShape);
            return true;
          }
        } else if (key_ == "data_offsets") {
          entry_.offsets_is_array = kind == Kind::kArray;
          entry_.offsets_count = 0;
          entry_.offsets_bad = false;
          if (entry_.offsets_is_array) {
            in_.push_back(In::kOffsets);
            return true;
          }
        }
        break;
      case In::kShape: {
        const size_t i = entry_.shape_count++;
        if (!entry_.shape_error.empty()) break;
        if (i >= kMaxRank) {
          entry_.shape_error =
              absl::StrCat("shape has more than ", kMaxRank, " dimensions");
        } else if (kind != Kind::kUnsigned) {
          entry_.shape_error = absl::StrCat("shape[", i, "] is not an integer >= 0");
        } else {
          entry_.dims.push_back(u);
        }
        break;
      }
      case In::kOffsets: {
        const size_t i = entry_.offsets_count++;
        if (i < 2) {
          if (kind == Kind::kUnsigned) {
            entry_.offsets[i] = u;
          } else {
            entry_.offsets_bad = true;
          }
        }
        break;
      }
    }
    if (container) skip_ = 1;  // a value that is not read: skipped to its end
    return true;
  }

  bool End() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    const In ended = in_.back();
    in_.pop_back();
    return ended == In::kEntry ? FinishEntry() : true;
  }

  // Checks the entry `name_` and keeps its shape and range.
  bool FinishEntry() {
    const Entry& e = entry_;
    if (!e.dtype.has_value() || !e.shape_is_array || !e.offsets_is_array ||
        e.offsets_count != 2) {
      return Fail(Corrupt(path_, absl::StrCat("tensor ", name_,
                                              ": expected {dtype, shape, "
                                              "data_offsets[2]}")));
    }
    if (*e.dtype != "F32") {
      return Fail(absl::UnimplementedError(absl::StrCat(
          path_, ": tensor ", name_, " has dtype ", *e.dtype, "; edbp reads F32")));
    }
    if (!e.shape_error.empty()) {
      return Fail(Corrupt(path_, absl::StrCat("tensor ", name_, ": ", e.shape_error)));
    }
    HostTensor t;
    for (size_t i = 0; i < e.dims.size(); ++i) {
      if (e.dims[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(Corrupt(path_, absl::StrCat("tensor ", name_, ": shape[", i, "] is ",
                                                e.dims[i], ", more than 2^63 - 1")));
      }
      t.shape.push_back(static_cast<int64_t>(e.dims[i]));
    }
    if (e.offsets_bad) {
      return Fail(Corrupt(path_, absl::StrCat("tensor ", name_, ": bad data_offsets")));
    }
    // Multiplied in the order NumElements multiplies, each step checked: a product
    // that wraps ([2^62, 4] is 0 in 64 bits) must not pass for a small tensor.
    int64_t bytes = 4;
    bool overflow = false;
    for (const int64_t d : t.shape) overflow |= __builtin_mul_overflow(bytes, d, &bytes);
    if (overflow) {
      return Fail(
          Corrupt(path_, absl::StrCat("tensor ", name_, " ", ShapeToString(t.shape),
                                      ": its byte size overflows 64 bits, the "
                                      "file has ",
                                      data_size_, " data bytes")));
    }
    const uint64_t expected = static_cast<uint64_t>(bytes);
    const uint64_t begin = e.offsets[0], end = e.offsets[1];
    if (begin > end || end > data_size_ || end - begin != expected) {
      return Fail(
          Corrupt(path_, absl::StrCat("tensor ", name_, " ", ShapeToString(t.shape),
                                      " needs ", expected, " bytes at [", begin, ",", end,
                                      ") of ", data_size_, " data bytes")));
    }
    const auto [it, inserted] = out_.tensors.emplace(name_, std::move(t));
    if (!inserted) {
      return Fail(Corrupt(path_, absl::StrCat("tensor ", name_, " appears twice")));
    }
    placed_.push_back({&it->first, &it->second, begin, end});
    return true;
  }

  const std::string& path_;
  const uint64_t data_size_;
  absl::Status status_;
  std::vector<In> in_ = {In::kTop};  // where the parser is; deeper values are skipped
  size_t skip_ = 0;                  // open containers of a skipped value
  std::string key_;                  // the last key
  std::string name_;                 // the tensor being read
  Entry entry_;
  SafeTensors out_;
  std::vector<Placed> placed_;
};

}  // namespace

absl::StatusOr<SafeTensors> ReadSafeTensors(const std::string& path) {
  // A pipe or a device has no size to check the header against (tellg() is -1, or
  // 2^63 - 1 for a directory): refused before it is opened, as it may never end.
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) &&
      !std::filesystem::is_regular_file(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) return absl::DataLossError(absl::StrCat(path, ": cannot seek"));
  const uint64_t size = static_cast<uint64_t>(end);
  in.seekg(0);
  if (size < 8) {
    return Corrupt(path, absl::StrCat("expected at least 8 bytes, got ", size));
  }
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) {
    return Corrupt(path, "short read");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return Corrupt(path, absl::StrCat("header length ", header_len, " but the file has ",
                                      size, " bytes"));
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) {
    return Corrupt(path, "short read");
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;

  HeaderReader reader(path, data_size);
  if (!nlohmann::json::sax_parse(header, &reader)) return reader.status();
  header = std::string();
  EDBP_RETURN_IF_ERROR(reader.CheckLayout());
  // The ranges tile the data (checked): the tensors hold the file's data bytes, read
  // straight into them.
  SafeTensors out = reader.TakeTensors();
  for (const HeaderReader::Placed& p : reader.placed()) {
    if (p.begin == p.end) continue;
    p.tensor->data.resize((p.end - p.begin) / 4);
    in.seekg(static_cast<std::streamoff>(data_start + p.begin));
    if (!in.read(reinterpret_cast<char*>(p.tensor->data.data()),
                 static_cast<std::streamsize>(p.end - p.begin))) {
      return Corrupt(path, absl::StrCat("short read of tensor ", *p.name));
    }
  }
  return out;
}

bool IsWriteTempOf(std::string_view file_name, std::string_view target_name) {
  return file_name.size() == target_name.size() + kTempInfix.size() + kTempRandomChars &&
         file_name.starts_with(target_name) &&
         file_name.substr(target_name.size(), kTempInfix.size()) == kTempInfix;
}

absl::Status WriteSafeTensors(const std::string& path, const SafeTensors& contents) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : contents.tensors) {
    EDBP_CHECK(static_cast<int64_t>(t.data.size()) == NumElements(t.shape)) << name;
    const uint64_t bytes = t.data.size() * 4;
    header[name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!contents.metadata.empty()) header["__metadata__"] = contents.metadata;
  std::string header_text = header.dump();
  while ((8 + header_text.size()) % 8 != 0) header_text.push_back(' ');  // align data
  const uint64_t header_len = header_text.size();
  char len_bytes[8];
  for (int i = 0; i < 8; ++i)
    len_bytes[i] = static_cast<char>((header_len >> (8 * i)) & 0xff);

  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string tmp = (dir / (target.filename().string() + std::string(kTempInfix) +
                            std::string(kTempRandomChars, 'X')))
                        .string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create a temporary file: ", std::strerror(errno)));
  }
  absl::Status status = WriteAll(fd, len_bytes, 8, tmp);
  if (status.ok()) status = WriteAll(fd, header_text.data(), header_text.size(), tmp);
  for (const auto& [name, t] : contents.tensors) {
    if (!status.ok()) break;
    status = WriteAll(fd, reinterpret_cast<const char*>(t.data.data()), t.data.size() * 4,
                      tmp);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status =
        absl::InternalError(absl::StrCat(tmp, ": fsync failed: ", std::strerror(errno)));
  }
  ::close(fd);
  if (status.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(
        absl::StrCat(path, ": rename from ", tmp, " failed: ", std::strerror(errno)));
  }
  if (!status.ok()) {
    std::remove(tmp.c_str());
    return status;
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace edbp

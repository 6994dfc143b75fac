#include "core/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "nlohmann/json.hpp"

namespace edbp {
namespace {

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

}  // namespace

absl::StatusOr<SafeTensors> ReadSafeTensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (size < 8) {
    return Corrupt(path, absl::StrCat("expected at least 8 bytes, got ", size));
  }
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return Corrupt(path, absl::StrCat("header length ", header_len, " but the file has ",
                                      size, " bytes"));
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  const uint64_t data_size = size - 8 - header_len;
  std::vector<char> data(data_size);
  in.read(data.data(), static_cast<std::streamsize>(data_size));
  if (!in) return Corrupt(path, "short read");

  nlohmann::json json =
      nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Corrupt(path, "the header is not a JSON object");
  }
  SafeTensors out;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Corrupt(path, "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string())
          return Corrupt(path, absl::StrCat("metadata ", k, " not a string"));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return Corrupt(path, absl::StrCat("tensor ", name,
                                        ": expected {dtype, shape, data_offsets[2]}"));
    }
    const std::string dtype = entry["dtype"].get<std::string>();
    if (dtype != "F32") {
      return absl::UnimplementedError(absl::StrCat(path, ": tensor ", name, " has dtype ",
                                                   dtype, "; edbp reads F32"));
    }
    HostTensor t;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned())
        return Corrupt(path, absl::StrCat(name, ": bad shape"));
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      return Corrupt(path, absl::StrCat(name, ": bad data_offsets"));
    }
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    const uint64_t expected = static_cast<uint64_t>(NumElements(t.shape)) * 4;
    if (begin > end || end > data_size || end - begin != expected) {
      return Corrupt(path, absl::StrCat("tensor ", name, " ", ShapeToString(t.shape),
                                        " needs ", expected, " bytes at [", begin, ",",
                                        end, ") of ", data_size, " data bytes"));
    }
    t.data.resize(NumElements(t.shape));
    if (expected > 0) std::memcpy(t.data.data(), data.data() + begin, expected);
    out.tensors.emplace(name, std::move(t));
  }
  return out;
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
  std::string tmp = (dir / (target.filename().string() + ".tmp.XXXXXX")).string();
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

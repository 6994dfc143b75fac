#include "worker/report_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace edbp::worker {
namespace {

constexpr char kMagic[8] = {'E', 'D', 'B', 'P', 'S', 'P', 'L', '1'};
constexpr uint64_t kHeaderBytes = 16;

void PutU64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t GetU64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | in[i];
  return v;
}
uint32_t GetU32(const unsigned char* in) {
  return static_cast<uint32_t>(in[0]) | (static_cast<uint32_t>(in[1]) << 8) |
         (static_cast<uint32_t>(in[2]) << 16) | (static_cast<uint32_t>(in[3]) << 24);
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Reads exactly n bytes at `offset`; false at the end of the file or on an error.
bool ReadAt(int fd, uint64_t offset, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t got = pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

bool WriteAt(int fd, uint64_t offset, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t put = pwrite(fd, p, n, static_cast<off_t>(offset));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    n -= static_cast<size_t>(put);
    offset += static_cast<uint64_t>(put);
  }
  return true;
}

}  // namespace

absl::StatusOr<ReportSpool> ReportSpool::Open(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it after.
  const int fd =
      open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat(path.string(), ": a symbolic link, not a spool file"));
    }
    return Errno("cannot open", path.string());
  }
  ReportSpool spool(fd, path.string());
  struct stat st {};
  if (fstat(fd, &st) != 0) return Errno("cannot stat", spool.path_);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(spool.path_, ": not a regular file"));
  }
  if (st.st_size == 0) {
    char header[kHeaderBytes];
    std::memcpy(header, kMagic, sizeof(kMagic));
    PutU64(kHeaderBytes, header + 8);
    if (!WriteAt(fd, 0, header, sizeof(header)))
      return Errno("cannot write", spool.path_);
    spool.delivered_ = spool.size_ = kHeaderBytes;
    return spool;
  }
  EDBP_RETURN_IF_ERROR(spool.Load());
  return spool;
}

absl::Status ReportSpool::Load() {
  struct stat st {};
  if (fstat(fd_, &st) != 0) return Errno("cannot stat", path_);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  unsigned char header[kHeaderBytes];
  if (file_size < kHeaderBytes || !ReadAt(fd_, 0, header, sizeof(header)) ||
      std::memcmp(header, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(
        path_,
        ": not a report spool (expected the magic EDBPSPL1 and a 16-byte header)"));
  }
  uint64_t delivered = GetU64(header + 8);
  if (delivered < kHeaderBytes || delivered > file_size) {
    absl::StrAppend(&repair_note_, "delivered offset ", delivered,
                    " lies outside the file; delivering every entry again. ");
    delivered = kHeaderBytes;
  }
  // Walk the entries from the first undelivered one; the file ends at the last whole
  // entry with a sane length.
  uint64_t end = delivered;
  while (end < file_size) {
    unsigned char len_bytes[4];
    if (end + 4 > file_size || !ReadAt(fd_, end, len_bytes, sizeof(len_bytes))) break;
    const uint32_t len = GetU32(len_bytes);
    if (len == 0 || len > kMaxSpoolEntryBytes) {
      absl::StrAppend(&repair_note_, "entry length ", len, " at offset ", end,
                      " is not 1 to ", kMaxSpoolEntryBytes, "; ");
      break;
    }
    if (end + 4 + len > file_size) break;
    end += 4 + len;
  }
  if (end != file_size) {
    absl::StrAppend(&repair_note_, "cut ", file_size - end, " bytes after offset ", end,
                    " (a write cut short)");
    if (ftruncate(fd_, static_cast<off_t>(end)) != 0) return Errno("cannot cut", path_);
  }
  delivered_ = delivered;
  size_ = end;
  if (delivered != GetU64(header + 8)) return WriteDelivered(delivered);
  return absl::OkStatus();
}

ReportSpool::ReportSpool(ReportSpool&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      delivered_(other.delivered_),
      size_(other.size_),
      repair_note_(std::move(other.repair_note_)) {}

ReportSpool& ReportSpool::operator=(ReportSpool&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    delivered_ = other.delivered_;
    size_ = other.size_;
    repair_note_ = std::move(other.repair_note_);
  }
  return *this;
}

ReportSpool::~ReportSpool() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ReportSpool::Append(const v1::ReportRequest& request) {
  const std::string bytes = request.SerializeAsString();
  if (bytes.empty() || bytes.size() > kMaxSpoolEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": a report of ", bytes.size(),
                                                   " bytes cannot be spooled (1 to ",
                                                   kMaxSpoolEntryBytes, ")"));
  }
  std::string entry(4, '\0');
  const auto len = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) entry[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  entry += bytes;
  if (!WriteAt(fd_, size_, entry.data(), entry.size())) {
    absl::Status error = Errno("cannot append to", path_);
    (void)ftruncate(fd_, static_cast<off_t>(size_));  // no torn entry left behind
    return error;
  }
  size_ += entry.size();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReportSpool::Entry>> ReportSpool::ReadPending(size_t limit) {
  std::vector<Entry> entries;
  uint64_t at = delivered_;
  std::string bytes;
  while (at < size_ && entries.size() < limit) {
    unsigned char len_bytes[4];
    if (!ReadAt(fd_, at, len_bytes, sizeof(len_bytes)))
      return Errno("cannot read", path_);
    const uint32_t len = GetU32(len_bytes);  // checked by Load and Append
    bytes.resize(len);
    if (!ReadAt(fd_, at + 4, bytes.data(), len)) return Errno("cannot read", path_);
    at += 4 + len;
    Entry entry;
    if (!entry.request.ParseFromString(bytes)) {  // garbage: skipped
      if (entries.empty()) {  // nothing to hand out before it: consume it now
        EDBP_RETURN_IF_ERROR(MarkDelivered(at));
        at = delivered_;
      }
      continue;
    }
    entry.end = at;
    entries.push_back(std::move(entry));
  }
  // Trailing garbage entries are consumed with the last good one.
  if (!entries.empty()) entries.back().end = at;
  return entries;
}

absl::Status ReportSpool::DeliverInOrder(
    const std::function<absl::Status(v1::ReportRequest&)>& deliver) {
  constexpr size_t kBatch = 64;
  while (!empty()) {
    EDBP_ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadPending(kBatch));
    for (Entry& entry : entries) {
      EDBP_RETURN_IF_ERROR(deliver(entry.request));
      EDBP_RETURN_IF_ERROR(MarkDelivered(entry.end));
    }
  }
  return absl::OkStatus();
}

absl::Status ReportSpool::MarkDelivered(uint64_t end) {
  if (end < delivered_ || end > size_) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": delivered offset ", end,
                                                   " is not within [", delivered_, ", ",
                                                   size_, "]"));
  }
  if (end == size_) {
    if (ftruncate(fd_, static_cast<off_t>(kHeaderBytes)) != 0) {
      return Errno("cannot cut", path_);
    }
    size_ = kHeaderBytes;
    end = kHeaderBytes;
  }
  return WriteDelivered(end);
}

absl::Status ReportSpool::WriteDelivered(uint64_t delivered) {
  char bytes[8];
  PutU64(delivered, bytes);
  if (!WriteAt(fd_, 8, bytes, sizeof(bytes))) return Errno("cannot write", path_);
  delivered_ = delivered;
  return absl::OkStatus();
}

}  // namespace edbp::worker

#include "server/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/data_dir.h"

namespace edbp::server {
namespace {

// The pid the holder wrote ("" when the file is empty or unreadable). At most 31 bytes
// are read: the file is ours, but a hostile one must not make us read much.
std::string HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  absl::string_view text(buf, static_cast<size_t>(n));
  text = absl::StripAsciiWhitespace(text);
  int64_t pid = 0;
  return absl::SimpleAtoi(text, &pid) && pid > 0 ? std::to_string(pid) : "";
}

}  // namespace

absl::StatusOr<DataDirLock> DataDirLock::Acquire(const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(data_dir.string(), ": ", ec.message()));
  const std::filesystem::path path = LockPath(data_dir);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string pid = HolderPid(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir.string(), " is in use by edbp-server",
                       pid.empty() ? "" : absl::StrCat(" (pid ", pid, ")"),
                       ", which holds ", path.string(), "; one server per data dir"));
    }
    return absl::InternalError(
        absl::StrCat("cannot lock ", path.string(), ": ", std::strerror(err)));
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    close(fd);
    return absl::InternalError(
        absl::StrCat("cannot write ", path.string(), ": ", std::strerror(err)));
  }
  return DataDirLock(fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace edbp::server

#include "base/pid_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace edbp {
namespace {

// The pid the holder wrote (0 when the file is empty, unreadable or not a pid). At
// most 31 bytes are read: a hostile file must not make us read much.
pid_t HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return 0;
  const absl::string_view text =
      absl::StripAsciiWhitespace(absl::string_view(buf, static_cast<size_t>(n)));
  int32_t pid = 0;
  return absl::SimpleAtoi(text, &pid) && pid > 0 ? pid : 0;
}

}  // namespace

absl::StatusOr<PidLock> PidLock::TryAcquire(const std::filesystem::path& path,
                                            pid_t* holder) {
  if (holder != nullptr) *holder = 0;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const pid_t pid = HolderPid(fd);
    close(fd);
    if (err == EWOULDBLOCK) {
      if (holder != nullptr) *holder = pid;
      return absl::FailedPreconditionError(
          absl::StrCat(path.string(), " is held by ",
                       pid > 0 ? absl::StrCat("pid ", pid) : "another process"));
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
  return PidLock(fd);
}

PidLock::PidLock(PidLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

PidLock& PidLock::operator=(PidLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

PidLock::~PidLock() {
  if (fd_ >= 0) close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace edbp

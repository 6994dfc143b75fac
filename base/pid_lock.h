// An exclusive flock(2) on a file that records its holder's pid: one owner at a time for
// a directory (edbp-server's data dir, a job's run directory).
//
// The kernel drops the lock when the holder ends in any way (kill -9 included), so no
// stale lock outlives its process; the descriptor is close-on-exec, so children never
// inherit it. The pid in the file names the holder in messages, and lets a process that
// must take over (a job's next attempt) signal the one in its way: it is read only
// while the lock is held, so it is the live holder's pid.
#ifndef EDBP_BASE_PID_LOCK_H_
#define EDBP_BASE_PID_LOCK_H_

#include <sys/types.h>

#include <filesystem>

#include "absl/status/statusor.h"

namespace edbp {

class PidLock {
 public:
  // Takes the lock on `path` (created 0600 when missing; its directory must exist)
  // without waiting and writes this process's pid into it. When another process holds
  // it: FAILED_PRECONDITION "PATH is held by pid N" and *holder = N (0 when the file
  // names no valid pid). Other failures (open, lock, write): the errno text and path.
  static absl::StatusOr<PidLock> TryAcquire(const std::filesystem::path& path,
                                            pid_t* holder = nullptr);

  PidLock(PidLock&& other) noexcept;
  PidLock& operator=(PidLock&& other) noexcept;
  PidLock(const PidLock&) = delete;
  PidLock& operator=(const PidLock&) = delete;
  ~PidLock();  // releases the lock; the file stays

 private:
  explicit PidLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace edbp

#endif  // EDBP_BASE_PID_LOCK_H_

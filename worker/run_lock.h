// The lock of a run directory: one edbp-train trains in a directory at a time.
//
// A job's next attempt can start while the previous attempt's process still runs: a
// server killed with -9 and restarted at once re-queues the job while the old trainer,
// sent SIGTERM by the kernel when its parent died, is still saving its checkpoint. The
// new process takes this lock before it reads anything in the directory (checkpoint,
// spool, stale temporary files), so it resumes from what the old one left and never
// trains beside it. edbp-server takes it too, without waiting, before it reads the
// spool of a job whose process has ended.
#ifndef EDBP_WORKER_RUN_LOCK_H_
#define EDBP_WORKER_RUN_LOCK_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include "absl/status/statusor.h"
#include "base/pid_lock.h"

namespace edbp::worker {

// Its name in a run directory.
inline constexpr char kRunLockFile[] = "trainer.lock";

inline std::filesystem::path RunLockPath(const std::filesystem::path& dir) {
  return dir / kRunLockFile;
}

// Takes the lock of `dir` (which must exist). When another process holds it:
// - `wait` = 0: FAILED_PRECONDITION "DIR is in use by edbp-train (pid N)";
// - otherwise calls `on_wait(holder pid)` once, sends the holder SIGTERM (it saves a
//   checkpoint and stops), polls every 50 ms, and after `wait` sends it SIGKILL and
//   waits up to 10 s more; DEADLINE_EXCEEDED if it is still held then.
// Other failures: those of PidLock::TryAcquire.
absl::StatusOr<PidLock> AcquireRunLock(const std::filesystem::path& dir,
                                       std::chrono::milliseconds wait,
                                       const std::function<void(pid_t)>& on_wait = {});

}  // namespace edbp::worker

#endif  // EDBP_WORKER_RUN_LOCK_H_

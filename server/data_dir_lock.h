// One edbp-server per --data-dir: a PidLock (base/pid_lock.h) on <data dir>/edbp.lock,
// held for the server's life. The kernel drops it when the process ends in any way
// (kill -9 included), so a restart never waits for a stale lock; the edbp-train
// children never hold it. The holder's pid is named in the message a second server
// prints.
#ifndef EDBP_SERVER_DATA_DIR_LOCK_H_
#define EDBP_SERVER_DATA_DIR_LOCK_H_

#include <filesystem>
#include <utility>

#include "absl/status/statusor.h"
#include "base/pid_lock.h"

namespace edbp::server {

class DataDirLock {
 public:
  // Creates the data dir if needed and takes its lock. FAILED_PRECONDITION when another
  // process holds it ("... is in use by edbp-server (pid N) ..."); the errno text for a
  // directory or lock file that cannot be created or opened.
  static absl::StatusOr<DataDirLock> Acquire(const std::filesystem::path& data_dir);

  // Moves; the destructor releases the lock (the file stays).

 private:
  explicit DataDirLock(PidLock lock) : lock_(std::move(lock)) {}
  PidLock lock_;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_DATA_DIR_LOCK_H_

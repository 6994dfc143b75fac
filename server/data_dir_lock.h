// One edbp-server per --data-dir: an exclusive flock(2) on <data dir>/edbp.lock, held
// for the server's life. The kernel drops it when the process ends in any way (kill -9
// included), so a restart never waits for a stale lock; the descriptor is close-on-exec,
// so the edbp-train children never hold it. The file records the holder's pid for the
// message a second server prints.
#ifndef EDBP_SERVER_DATA_DIR_LOCK_H_
#define EDBP_SERVER_DATA_DIR_LOCK_H_

#include <filesystem>

#include "absl/status/statusor.h"

namespace edbp::server {

class DataDirLock {
 public:
  // Creates the data dir if needed and takes its lock. FAILED_PRECONDITION when another
  // process holds it ("... is in use by edbp-server (pid N) ..."); the errno text for a
  // directory or lock file that cannot be created or opened.
  static absl::StatusOr<DataDirLock> Acquire(const std::filesystem::path& data_dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock (the file stays)

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace edbp::server

#endif  // EDBP_SERVER_DATA_DIR_LOCK_H_

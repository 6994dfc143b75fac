#include "server/data_dir_lock.h"

#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "server/data_dir.h"

namespace edbp::server {

absl::StatusOr<DataDirLock> DataDirLock::Acquire(const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(data_dir.string(), ": ", ec.message()));
  const std::filesystem::path path = LockPath(data_dir);
  pid_t holder = 0;
  absl::StatusOr<PidLock> lock = PidLock::TryAcquire(path, &holder);
  if (absl::IsFailedPrecondition(lock.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data-dir ", data_dir.string(), " is in use by edbp-server",
                     holder > 0 ? absl::StrCat(" (pid ", holder, ")") : "",
                     ", which holds ", path.string(), "; one server per data dir"));
  }
  if (!lock.ok()) return lock.status();
  return DataDirLock(*std::move(lock));
}

}  // namespace edbp::server

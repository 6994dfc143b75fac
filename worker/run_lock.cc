#include "worker/run_lock.h"

#include <csignal>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace edbp::worker {

absl::StatusOr<PidLock> AcquireRunLock(const std::filesystem::path& dir,
                                       std::chrono::milliseconds wait,
                                       const std::function<void(pid_t)>& on_wait) {
  using Clock = std::chrono::steady_clock;
  constexpr std::chrono::milliseconds kPoll(50);
  constexpr std::chrono::seconds kAfterKill(10);
  const std::filesystem::path path = RunLockPath(dir);
  pid_t holder = 0;
  absl::StatusOr<PidLock> lock = PidLock::TryAcquire(path, &holder);
  if (!absl::IsFailedPrecondition(lock.status())) return lock;
  const std::string in_use =
      absl::StrCat(dir.string(), " is in use by edbp-train",
                   holder > 0 ? absl::StrCat(" (pid ", holder, ")") : "",
                   ", which holds ", path.string());
  if (wait.count() <= 0) return absl::FailedPreconditionError(in_use);
  if (on_wait) on_wait(holder);
  // The pid is read while the lock is held, so it is the live holder's.
  if (holder > 0) kill(holder, SIGTERM);
  const Clock::time_point kill_at = Clock::now() + wait;
  const Clock::time_point give_up = kill_at + kAfterKill;
  bool killed = false;
  while (true) {
    std::this_thread::sleep_for(kPoll);
    lock = PidLock::TryAcquire(path, &holder);
    if (!absl::IsFailedPrecondition(lock.status())) return lock;
    const Clock::time_point now = Clock::now();
    if (!killed && now >= kill_at) {
      if (holder > 0) kill(holder, SIGKILL);
      killed = true;
    }
    if (now >= give_up) {
      return absl::DeadlineExceededError(absl::StrCat(
          in_use, "; it did not stop within ", wait.count(), " ms and ",
          std::chrono::duration_cast<std::chrono::seconds>(kAfterKill).count(),
          " s after SIGKILL"));
    }
  }
}

}  // namespace edbp::worker

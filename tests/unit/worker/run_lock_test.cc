// worker/run_lock.h: a run directory has one trainer; the next one waits for it, asks it
// to stop, and kills it when it does not.
#include "worker/run_lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/temp_dir.h"

namespace edbp::worker {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A child that takes the lock of `dir` and then sleeps; with `ignore_term` it ignores
// SIGTERM (a trainer stuck in a long step), else SIGTERM ends it. Returns its pid once it
// holds the lock.
pid_t StartHolder(const std::filesystem::path& dir, bool ignore_term) {
  int ready[2];
  EXPECT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  if (child == 0) {
    if (ignore_term) signal(SIGTERM, SIG_IGN);
    absl::StatusOr<PidLock> lock = PidLock::TryAcquire(RunLockPath(dir));
    (void)!write(ready[1], lock.ok() ? "1" : "0", 1);
    while (true) pause();
  }
  char c = 0;
  EXPECT_EQ(read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, '1');
  close(ready[0]);
  close(ready[1]);
  return child;
}

// How the child ended: the signal that killed it, or -1.
int Reap(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : -1;
}

TEST(RunLockTest, WithoutWaitingABusyDirectoryNamesItsTrainer) {
  const testing::TempDir dir("runlock");
  const pid_t holder = StartHolder(dir.path(), /*ignore_term=*/false);
  absl::StatusOr<PidLock> lock = AcquireRunLock(dir.path(), std::chrono::milliseconds(0));
  EXPECT_TRUE(absl::IsFailedPrecondition(lock.status())) << lock.status();
  EXPECT_THAT(lock.status().message(),
              HasSubstr(absl::StrCat("is in use by edbp-train (pid ", holder, ")")));
  kill(holder, SIGKILL);
  Reap(holder);
  EXPECT_TRUE(AcquireRunLock(dir.path(), std::chrono::milliseconds(0)).ok());
}

TEST(RunLockTest, TheHolderIsAskedToStopAndTheLockTakenWhenItHas) {
  const testing::TempDir dir("runlock");
  const pid_t holder = StartHolder(dir.path(), /*ignore_term=*/false);
  pid_t told = 0;
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<PidLock> lock = AcquireRunLock(dir.path(), std::chrono::seconds(30),
                                                [&](pid_t pid) { told = pid; });
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));  // not the 30 s
  EXPECT_EQ(told, holder);
  EXPECT_EQ(Reap(holder), SIGTERM);
}

TEST(RunLockTest, AHolderThatIgnoresSigtermIsKilledAfterTheWait) {
  const testing::TempDir dir("runlock");
  const pid_t holder = StartHolder(dir.path(), /*ignore_term=*/true);
  const Clock::time_point t0 = Clock::now();
  absl::StatusOr<PidLock> lock =
      AcquireRunLock(dir.path(), std::chrono::milliseconds(500));
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(Reap(holder), SIGKILL);
}

}  // namespace
}  // namespace edbp::worker

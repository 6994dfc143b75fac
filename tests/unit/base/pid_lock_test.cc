// base/pid_lock.h: one holder at a time, its pid named, released with the holder.
// flock(2) locks belong to open file descriptions, so two TryAcquire calls in this one
// process conflict as two processes do.
#include "base/pid_lock.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"
#include "tests/temp_dir.h"

namespace edbp {
namespace {

using ::testing::HasSubstr;

TEST(PidLockTest, ASecondHolderIsRefusedAndToldTheFirstsPid) {
  const testing::TempDir dir("pidlock");
  absl::StatusOr<PidLock> first = PidLock::TryAcquire(dir / "x.lock");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(testing::ReadFile(dir / "x.lock"), absl::StrCat(getpid(), "\n"));
  struct stat st {};
  ASSERT_EQ(stat((dir / "x.lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  pid_t holder = -1;
  absl::StatusOr<PidLock> second = PidLock::TryAcquire(dir / "x.lock", &holder);
  ASSERT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_EQ(holder, getpid());
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("x.lock is held by pid ", getpid())));
  // Moved, it is still held; destroyed, it is free.
  PidLock moved = *std::move(first);
  EXPECT_FALSE(PidLock::TryAcquire(dir / "x.lock").ok());
  { PidLock gone = std::move(moved); }
  EXPECT_TRUE(PidLock::TryAcquire(dir / "x.lock", &holder).ok());
  EXPECT_EQ(holder, 0);
}

TEST(PidLockTest, AHolderKilledWithSignal9LeavesNoLock) {
  const testing::TempDir dir("pidlock");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const absl::StatusOr<PidLock> lock = PidLock::TryAcquire(dir / "x.lock");  // kept
    (void)!write(ready[1], lock.ok() ? "1" : "0", 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, '1');
  pid_t holder = 0;
  EXPECT_FALSE(PidLock::TryAcquire(dir / "x.lock", &holder).ok());
  EXPECT_EQ(holder, child);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(PidLock::TryAcquire(dir / "x.lock").ok());
  close(ready[0]);
  close(ready[1]);
}

TEST(PidLockTest, GarbageInTheFileNamesNoPidAndALinkIsRefused) {
  const testing::TempDir dir("pidlock");
  absl::StatusOr<PidLock> first = PidLock::TryAcquire(dir / "x.lock");
  ASSERT_TRUE(first.ok());
  for (const std::string& garbage : {std::string("-5\n"), std::string("12abc"),
                                     std::string(4096, '9'), std::string("\0\0\0", 3)}) {
    std::ofstream(dir / "x.lock", std::ios::trunc) << garbage;
    pid_t holder = -1;
    absl::StatusOr<PidLock> second = PidLock::TryAcquire(dir / "x.lock", &holder);
    EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
    EXPECT_EQ(holder, 0) << garbage;
    EXPECT_THAT(second.status().message(), HasSubstr("held by another process"));
  }
  std::filesystem::create_symlink(dir / "x.lock", dir / "link.lock");
  absl::StatusOr<PidLock> link = PidLock::TryAcquire(dir / "link.lock");
  EXPECT_TRUE(absl::IsPermissionDenied(link.status())) << link.status();
  EXPECT_THAT(link.status().message(), HasSubstr("link.lock"));
  EXPECT_FALSE(PidLock::TryAcquire(dir / "missing" / "x.lock").ok());
}

}  // namespace
}  // namespace edbp

// One server per data dir (server/data_dir_lock.h). flock(2) locks belong to open file
// descriptions, so two Acquire calls in this one process conflict as two servers do.
#include "server/data_dir_lock.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class DataDirLockTest : public ::testing::Test {
 protected:
  DataDirLockTest()
      : dir_(fs::temp_directory_path() /
             absl::StrCat("edbp_lock_",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                          "_", getpid())) {
    fs::remove_all(dir_);
  }
  ~DataDirLockTest() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(DataDirLockTest, ASecondHolderIsRefusedWithTheFirstsPid) {
  absl::StatusOr<DataDirLock> first = DataDirLock::Acquire(dir_ / "data");  // created
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<DataDirLock> second = DataDirLock::Acquire(dir_ / "data");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("is in use by edbp-server (pid ", getpid(), ")")));
  EXPECT_THAT(second.status().message(), HasSubstr("edbp.lock"));
}

TEST_F(DataDirLockTest, TheLockIsFreeOnceItsHolderIsGoneAndMovesWithIt) {
  {
    absl::StatusOr<DataDirLock> first = DataDirLock::Acquire(dir_);
    ASSERT_TRUE(first.ok()) << first.status();
    DataDirLock moved = std::move(*first);  // the moved-from lock releases nothing
    EXPECT_FALSE(DataDirLock::Acquire(dir_).ok());
  }
  EXPECT_TRUE(DataDirLock::Acquire(dir_).ok());
}

TEST_F(DataDirLockTest, AGarbageLockFileGivesAMessageWithoutAPid) {
  absl::StatusOr<DataDirLock> first = DataDirLock::Acquire(dir_);
  ASSERT_TRUE(first.ok()) << first.status();
  // flock is advisory: anyone may scribble over the file; the reader takes 31 bytes.
  std::ofstream(dir_ / "edbp.lock", std::ios::trunc) << std::string(1 << 20, 'x');
  absl::StatusOr<DataDirLock> second = DataDirLock::Acquire(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("is in use by edbp-server, which"));
  EXPECT_THAT(second.status().message(), Not(HasSubstr("(pid")));
}

TEST_F(DataDirLockTest, ADirectoryThatCannotBeMadeIsAnError) {
  std::ofstream(dir_.string() + "_file") << "a file, not a directory";
  const absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(dir_.string() + "_file");
  EXPECT_FALSE(lock.ok());
  EXPECT_THAT(lock.status().message(), HasSubstr(dir_.string() + "_file"));
  fs::remove(dir_.string() + "_file");
}

}  // namespace
}  // namespace edbp::server

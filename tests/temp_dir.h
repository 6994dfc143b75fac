// A fresh directory for one test, removed with everything in it when the test ends:
// <tmp>/edbp_<prefix>_<test name>_<pid>, so two runs of a test on one machine and two
// tests of one run never share files. Short enough for Unix socket paths under it.
#ifndef EDBP_TESTS_TEMP_DIR_H_
#define EDBP_TESTS_TEMP_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace edbp::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix)
      : path_(std::filesystem::path("/tmp") /
              ("edbp_" + prefix + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
               std::to_string(getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace edbp::testing

#endif  // EDBP_TESTS_TEMP_DIR_H_

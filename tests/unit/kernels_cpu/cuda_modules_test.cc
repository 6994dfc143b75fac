// The CUDA side is loaded from its two modules on first use (kernels/cuda_modules.h),
// never by CPU work: what each step maps into the process, and the errors when a module
// is missing, is not a shared object, or is not an edbp module. The module lookup is
// cached per process, so every case runs in a fresh one (a "threadsafe" death test
// re-executes this binary) and reports what it found through its exit status.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"

namespace edbp::kernels {
namespace {

namespace fs = std::filesystem;

std::string Maps() {
  std::ifstream in("/proc/self/maps");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Mapped(const std::string& library) {
  return Maps().find(library) != std::string::npos;
}

// Ends the child: exit 0 when `problems` is empty, else prints them and exits 1.
[[noreturn]] void Finish(const std::string& problems) {
  if (!problems.empty()) std::fprintf(stderr, "%s\n", problems.c_str());
  std::fflush(stderr);
  _exit(problems.empty() ? 0 : 1);
}

void Expect(bool ok, const std::string& what, std::string& problems) {
  if (!ok) absl::StrAppend(&problems, "FAILED: ", what, "\n");
}

class CudaModulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    char tmpl[] = "/tmp/edbp-cuda-modules-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CudaModulesTest, CpuWorkMapsNoCudaLibrary) {
  EXPECT_EXIT(
      {
        std::string problems;
        absl::StatusOr<Backend*> cpu = GetBackend(Device{});
        Expect(cpu.ok(), "the CPU backend starts", problems);
        absl::StatusOr<void*> block = (*cpu)->Allocate(4 << 20);
        Expect(block.ok(), "a CPU allocation", problems);
        Expect(GetDeviceMemoryStats(Device{}).ok(), "CPU memory statistics", problems);
        for (const char* lib : {"libcudart", "libcublas", "libcudnn", "libedbp_cuda"}) {
          Expect(!Mapped(lib), absl::StrCat(lib, " is not mapped by CPU work"), problems);
        }
        Finish(problems);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(CudaModulesTest, CountingDevicesLoadsTheRuntimeOnly) {
  EXPECT_EXIT(
      {
        std::string problems;
        setenv("EDBP_CUDA_MODULE_DIR", EDBP_CUDA_MODULE_BUILD_DIR, 1);
        const int count = CudaDeviceCount();
        Expect(CudaUnavailableReason().empty(),
               "the query module loads: " + CudaUnavailableReason(), problems);
        Expect(Mapped("libedbp_cuda_query.so") && Mapped("libcudart"),
               "the query module and the CUDA runtime are mapped", problems);
        Expect(!Mapped("libcublas") && !Mapped("libcudnn") && !Mapped("libedbp_cuda.so"),
               "cuBLAS, cuDNN and the backend module wait for a backend", problems);
        const absl::StatusOr<Backend*> cuda = GetBackend(Device{DeviceType::kCuda, 0});
        if (count == 0) {
          // This machine: no device, so the backend module is never needed.
          Expect(cuda.status().code() == absl::StatusCode::kNotFound,
                 absl::StrCat("no device is NOT_FOUND: ", cuda.status().ToString()),
                 problems);
          Expect(!Mapped("libcublas") && !Mapped("libedbp_cuda.so"),
                 "still no cuBLAS after asking for a missing device", problems);
        } else {
          Expect(cuda.ok(), "the backend starts: " + cuda.status().ToString(), problems);
          Expect(Mapped("libedbp_cuda.so") && Mapped("libcublas"),
                 "a backend maps its module and cuBLAS", problems);
        }
        Finish(problems);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(CudaModulesTest, AMissingModuleIsAClearErrorNotACrash) {
  const std::string missing = (dir_ / "nowhere").string();
  EXPECT_EXIT(
      {
        std::string problems;
        setenv("EDBP_CUDA_MODULE_DIR", missing.c_str(), 1);
        Expect(CudaDeviceCount() == 0, "no devices without the module", problems);
        const std::string why = CudaUnavailableReason();
        Expect(why.find(missing + "/libedbp_cuda_query.so") != std::string::npos,
               "the reason names the path: " + why, problems);
        Expect(why.find("No such file") != std::string::npos,
               "the reason has the loader's message: " + why, problems);
        const absl::Status cuda = GetBackend(Device{DeviceType::kCuda, 0}).status();
        Expect(cuda.code() == absl::StatusCode::kNotFound &&
                   cuda.message().find(missing) != std::string::npos,
               "GetBackend says why: " + cuda.ToString(), problems);
        Finish(problems);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(CudaModulesTest, GarbageAndForeignModulesAreClearErrors) {
  const fs::path garbage = dir_ / "garbage";
  fs::create_directories(garbage);
  std::ofstream(garbage / "libedbp_cuda_query.so") << "\x7f"
                                                      "ELF but not really";
  // A real shared object without the entry point: the backend module under the query
  // module's name (it exports edbp_cuda_backend_v1, not edbp_cuda_device_count).
  const fs::path foreign = dir_ / "foreign";
  fs::create_directories(foreign);
  fs::copy_file(fs::path(EDBP_CUDA_MODULE_BUILD_DIR) / "libedbp_cuda.so",
                foreign / "libedbp_cuda_query.so");
  EXPECT_EXIT(
      {
        std::string problems;
        setenv("EDBP_CUDA_MODULE_DIR", garbage.c_str(), 1);
        Expect(CudaDeviceCount() == 0, "no devices from a garbage module", problems);
        Expect(CudaUnavailableReason().find("cannot load the CUDA module " +
                                            garbage.string()) != std::string::npos,
               "garbage: " + CudaUnavailableReason(), problems);
        Finish(problems);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        std::string problems;
        setenv("EDBP_CUDA_MODULE_DIR", foreign.c_str(), 1);
        Expect(CudaDeviceCount() == 0, "no devices from a foreign module", problems);
        Expect(CudaUnavailableReason().find(
                   "is not an edbp CUDA module: it has no edbp_cuda_device_count") !=
                   std::string::npos,
               "foreign: " + CudaUnavailableReason(), problems);
        Finish(problems);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace edbp::kernels

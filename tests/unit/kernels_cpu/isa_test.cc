// The instruction-set level of the CPU kernels and its cap (kernels/cpu/isa.h).
#include "kernels/cpu/isa.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::kernels::cpu {
namespace {

TEST(CpuIsaTest, NamesParseBack) {
  for (const CpuIsa isa : {CpuIsa::kPortable, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    CpuIsa parsed = CpuIsa::kPortable;
    ASSERT_TRUE(ParseCpuIsa(CpuIsaName(isa), &parsed)) << CpuIsaName(isa);
    EXPECT_EQ(parsed, isa);
  }
  EXPECT_STREQ(CpuIsaName(CpuIsa::kAvx2), "avx2");
  CpuIsa untouched = CpuIsa::kAvx2;
  for (const char* bad : {"", "AVX2", "avx", "avx512f", "sse2", "avx2 "}) {
    EXPECT_FALSE(ParseCpuIsa(bad, &untouched)) << "'" << bad << "'";
  }
  EXPECT_EQ(untouched, CpuIsa::kAvx2);
}

TEST(CpuIsaTest, TheCapLowersTheLevelButNeverRaisesIt) {
  const CpuIsa detected = DetectedCpuIsa();
  const CpuIsa saved = SetCpuIsaCap(CpuIsa::kAvx512);
  EXPECT_EQ(ActiveCpuIsa(), detected);  // the CPU's best
  SetCpuIsaCap(CpuIsa::kPortable);
  EXPECT_EQ(ActiveCpuIsa(), CpuIsa::kPortable);
  EXPECT_EQ(SetCpuIsaCap(CpuIsa::kAvx2), CpuIsa::kPortable);  // returns the old cap
  EXPECT_EQ(ActiveCpuIsa(), detected < CpuIsa::kAvx2 ? detected : CpuIsa::kAvx2);
  SetCpuIsaCap(saved);
}

TEST(CpuIsaTest, TheActiveLevelIsOneTheCpuHas) {
  EXPECT_LE(ActiveCpuIsa(), DetectedCpuIsa());
}

TEST(CpuIsaTest, TheEnvironmentSetsTheStartingCap) {
  // ctest runs the kernel tests again with EDBP_CPU_ISA=avx2 and =portable: the level
  // those runs test is the one asked for, or the CPU's where that is lower.
  const char* env = std::getenv("EDBP_CPU_ISA");
  if (env == nullptr || *env == '\0') {
    GTEST_SKIP() << "EDBP_CPU_ISA is not set; the level is the CPU's, "
                 << CpuIsaName(DetectedCpuIsa());
  }
  CpuIsa cap;
  ASSERT_TRUE(ParseCpuIsa(env, &cap)) << env;
  const CpuIsa want = DetectedCpuIsa() < cap ? DetectedCpuIsa() : cap;
  EXPECT_EQ(ActiveCpuIsa(), want);
}

TEST(CpuIsaDeathTest, AnUnknownLevelInTheEnvironmentNamesTheVariable) {
  EXPECT_EXIT(
      {
        setenv("EDBP_CPU_ISA", "avx3", 1);
        // A fresh process reads the variable at the first use of the level.
        execl("/proc/self/exe", "isa_test",
              "--gtest_filter=CpuIsaTest.TheActiveLevelIsOneTheCpuHas",
              static_cast<char*>(nullptr));
        std::_Exit(99);
      },
      ::testing::KilledBySignal(SIGABRT),
      "EDBP_CPU_ISA=avx3: expected portable, avx2 or avx512");
}

}  // namespace
}  // namespace edbp::kernels::cpu

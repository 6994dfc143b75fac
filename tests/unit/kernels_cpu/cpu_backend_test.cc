// The CPU backend's memory: alignment, the block cache, copies, and the registry.
#include "kernels/cpu/cpu_backend.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "kernels/registry.h"

namespace edbp::kernels {
namespace {

TEST(CpuBackend, AllocationsAreAlignedAndCached) {
  CpuBackend cpu;
  auto a = cpu.Allocate(1000);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(*a) % 64, 0u);
  auto zero = cpu.Allocate(0);  // a valid, unique pointer
  ASSERT_TRUE(zero.ok());
  EXPECT_NE(*zero, nullptr);
  EXPECT_NE(*zero, *a);
  cpu.Deallocate(*a);
  // Same rounded size (1000 → 1024 bytes): the cached block comes back.
  auto b = cpu.Allocate(1020);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a);
  // Another size gets another block while b is live.
  auto c = cpu.Allocate(4096);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*c, *b);
  cpu.Deallocate(*b);
  cpu.Deallocate(*c);
  cpu.Deallocate(*zero);
  EXPECT_EQ(cpu.ReleaseCachedMemory(), 1024u + 4096u + 64u);
  EXPECT_EQ(cpu.ReleaseCachedMemory(), 0u);
}

TEST(CpuBackend, CopiesMoveBytes) {
  CpuBackend cpu;
  auto p = cpu.Allocate(16);
  ASSERT_TRUE(p.ok());
  const float src[4] = {1, 2, 3, 4};
  float dst[4] = {};
  ASSERT_TRUE(cpu.CopyHostToDevice(*p, src, sizeof(src)).ok());
  ASSERT_TRUE(cpu.CopyDeviceToHost(dst, *p, sizeof(dst)).ok());
  EXPECT_EQ(std::vector<float>(dst, dst + 4), std::vector<float>(src, src + 4));
  cpu.Deallocate(*p);
}

TEST(Registry, CpuBackendIsASingleton) {
  auto a = GetBackend({DeviceType::kCpu, 0});
  auto b = GetBackend({});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*a)->device().ToString(), "cpu");
  EXPECT_EQ((Device{DeviceType::kCuda, 1}).ToString(), "cuda:1");
}

}  // namespace
}  // namespace edbp::kernels

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

TEST(CpuBackend, MemoryStatsCountRoundedBlocksLiveAndCached) {
  CpuBackend cpu;
  auto a = cpu.Allocate(1000);  // 1024 rounded
  auto b = cpu.Allocate(100);   // 128
  ASSERT_TRUE(a.ok() && b.ok());
  DeviceMemoryStats s = cpu.MemoryStats();
  EXPECT_EQ(s.in_use, 1152u);
  EXPECT_EQ(s.reserved, 1152u);
  cpu.Deallocate(*a);
  s = cpu.MemoryStats();
  EXPECT_EQ(s.in_use, 128u);
  EXPECT_EQ(s.peak_in_use, 1152u);
  EXPECT_EQ(s.reserved, 1152u);  // a is cached, still held
  // A cache hit takes nothing new from the system.
  auto c = cpu.Allocate(1024);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *a);
  EXPECT_EQ(cpu.MemoryStats().reserved, 1152u);
  cpu.Deallocate(*c);
  cpu.ResetPeakMemory();
  s = cpu.MemoryStats();
  EXPECT_EQ(s.peak_in_use, 128u);
  EXPECT_EQ(s.peak_reserved, 1152u);
  EXPECT_EQ(cpu.ReleaseCachedMemory(), 1024u);
  s = cpu.MemoryStats();
  EXPECT_EQ(s.reserved, 128u);
  EXPECT_EQ(s.peak_reserved, 1152u);  // peaks stay until the next reset
  cpu.Deallocate(*b);
  EXPECT_EQ(cpu.ReleaseCachedMemory(), 128u);
  EXPECT_EQ(cpu.MemoryStats().reserved, 0u);
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
  // The CPU has memory statistics too, through the same call as a GPU.
  const absl::StatusOr<DeviceMemoryStats> stats = GetDeviceMemoryStats(Device{});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->peak_reserved, stats->reserved);
}

}  // namespace
}  // namespace edbp::kernels

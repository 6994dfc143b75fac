// The CPU backend's arena of large blocks (kernels/cpu/host_arena.h): first fit in
// address order, merging of free neighbours, release of untouched pages, and the
// resident bound it reports, each against layouts worked out by hand.
#include "kernels/cpu/host_arena.h"

#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"

namespace edbp::kernels::cpu {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

char* Ptr(void* p) { return static_cast<char*>(p); }

TEST(HostArena, FirstFitInAddressOrderAndMergedNeighbours) {
  HostArena arena(16 * kMiB);
  char* a = Ptr(arena.Allocate(kMiB));
  char* b = Ptr(arena.Allocate(kMiB));
  char* c = Ptr(arena.Allocate(2 * kMiB));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % HostArena::kAlign, 0u);
  EXPECT_EQ(b, a + kMiB);  // one mapping, handed out from its start
  EXPECT_EQ(c, a + 2 * kMiB);
  EXPECT_EQ(arena.touched(), 4 * kMiB);
  // a and b freed, in either order, make one 2 MiB hole: a 2 MiB block takes a's place
  // instead of new memory above c (what a cache by size could not do).
  EXPECT_EQ(arena.Deallocate(b), kMiB);
  EXPECT_EQ(arena.Deallocate(a), kMiB);
  char* d = Ptr(arena.Allocate(2 * kMiB));
  EXPECT_EQ(d, a);
  EXPECT_EQ(arena.touched(), 4 * kMiB);
  // Freeing c merges it with the free rest of the mapping above it; freeing d then
  // merges with both sides: the whole mapping is one free range again.
  arena.Deallocate(c);
  arena.Deallocate(d);
  EXPECT_EQ(Ptr(arena.Allocate(16 * kMiB)), a);
  EXPECT_EQ(arena.mappings(), 1u);
}

TEST(HostArena, AHoleTooSmallIsSkippedAndFilledLater) {
  HostArena arena(16 * kMiB);
  char* a = Ptr(arena.Allocate(kMiB));
  char* b = Ptr(arena.Allocate(kMiB));
  char* c = Ptr(arena.Allocate(kMiB));
  arena.Deallocate(b);  // a 1 MiB hole between a and c
  EXPECT_EQ(Ptr(arena.Allocate(2 * kMiB)), c + kMiB);
  EXPECT_EQ(Ptr(arena.Allocate(512 * 1024)), b);  // first fit: the hole
  EXPECT_EQ(Ptr(arena.Allocate(512 * 1024)), b + 512 * 1024);
  EXPECT_EQ(arena.touched(), 5 * kMiB);
  (void)a;
}

TEST(HostArena, LargeRequestsGetTheirOwnMappingAndReleaseUnmapsIt) {
  HostArena arena(4 * kMiB);
  void* small = arena.Allocate(kMiB);
  void* big = arena.Allocate(10 * kMiB + 64);  // larger than a mapping
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(arena.mappings(), 2u);
  EXPECT_EQ(arena.touched(), 11 * kMiB + 64);
  arena.Deallocate(big);
  EXPECT_EQ(arena.Release(), 10 * kMiB + 64);  // the big mapping is gone
  EXPECT_EQ(arena.mappings(), 1u);
  EXPECT_EQ(arena.touched(), kMiB);
  arena.Deallocate(small);
  EXPECT_EQ(arena.Release(), kMiB);
  EXPECT_EQ(arena.mappings(), 0u);
  EXPECT_EQ(arena.touched(), 0u);
  // Usable again after everything was released.
  EXPECT_NE(arena.Allocate(kMiB), nullptr);
}

TEST(HostArena, ReleaseDropsFreePagesBetweenLiveBlocksAndLowersTheHighWater) {
  HostArena arena(16 * kMiB);
  char* a = Ptr(arena.Allocate(2 * kMiB));
  char* b = Ptr(arena.Allocate(2 * kMiB));
  char* c = Ptr(arena.Allocate(2 * kMiB));
  std::memset(a, 0x5a, 2 * kMiB);
  std::memset(b, 0x5a, 2 * kMiB);
  std::memset(c, 0x5a, 2 * kMiB);
  arena.Deallocate(a);
  arena.Deallocate(c);
  // b stays live: c's range and everything above it no longer count; a's pages go
  // back to the system (read as zero) while b keeps its bytes.
  EXPECT_EQ(arena.Release(), 2 * kMiB);
  EXPECT_EQ(arena.touched(), 4 * kMiB);
  EXPECT_EQ(a[0], 0);
  EXPECT_EQ(a[2 * kMiB - 1], 0);
  EXPECT_EQ(b[0], 0x5a);
  EXPECT_EQ(b[2 * kMiB - 1], 0x5a);
  EXPECT_EQ(Ptr(arena.Allocate(2 * kMiB)), a);  // the hole is reused in place
}

TEST(HostArena, ImpossibleRequestsFailWithoutAborting) {
  HostArena arena(4 * kMiB);
  EXPECT_EQ(arena.Allocate(size_t{1} << 62), nullptr);  // more than any machine maps
  EXPECT_EQ(arena.Allocate(~size_t{63}), nullptr);      // would overflow a round-up
  EXPECT_EQ(arena.mappings(), 0u);
  EXPECT_NE(arena.Allocate(kMiB), nullptr);
}

TEST(HostArenaDeathTest, ForeignPointersAndBadSizesAreCaught) {
  HostArena arena(4 * kMiB);
  int on_stack = 0;
  EXPECT_DEATH(arena.Deallocate(&on_stack), "did not give");
  EXPECT_DEATH(arena.Allocate(100), "HostArena::Allocate");  // not a multiple of 64
}

}  // namespace
}  // namespace edbp::kernels::cpu

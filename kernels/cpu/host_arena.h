// Large host blocks for the CPU backend, carved from big mappings that the system
// commits page by page as they are first touched.
//
// Why not a cache of freed blocks by size: a training step frees and allocates the
// same tensors every batch, but not all at once. The backward of the first conv layer
// asks for blocks twice the size of those the second layer's forward left free; a
// cache by size cannot give those out again and keeps them as well (Fashion-MNIST:
// 271 MB held for 208 MB ever live at once). Here freed ranges merge with their free
// neighbours and are handed out first-fit in address order, so a later, larger tensor
// takes the place of two earlier ones, the lowest addresses are reused first, and what
// the step touches stays close to what it has live at its peak.
//
// Contract:
// - Allocate(bytes): a block of `bytes` (a multiple of kAlign, > 0) aligned to kAlign,
//   or nullptr when the system refuses the mapping. Never zeroed.
// - Deallocate(ptr): ptr must come from Allocate (CHECKed); returns its size.
// - Release(): gives back every page no live block uses: mappings with no live block
//   are unmapped, free ranges in the others are dropped with MADV_DONTNEED (their
//   pages read as zero afterwards). Blocks stay where they are.
// - touched(): an upper bound of the arena's resident memory: for each mapping, the end
//   of the highest range ever handed out (lowered by Release to the highest live end).
//
// Not thread-safe: CpuBackend calls it under its mutex.
#ifndef EDBP_KERNELS_CPU_HOST_ARENA_H_
#define EDBP_KERNELS_CPU_HOST_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

namespace edbp::kernels::cpu {

class HostArena {
 public:
  static constexpr size_t kAlign = 64;
  // `mapping_bytes`: the size of each mapping (address space only until touched); a
  // larger request gets a mapping of its own.
  explicit HostArena(size_t mapping_bytes = size_t{1} << 30);
  ~HostArena();
  HostArena(const HostArena&) = delete;
  HostArena& operator=(const HostArena&) = delete;

  void* Allocate(size_t bytes);
  size_t Deallocate(void* ptr);
  bool Owns(const void* ptr) const { return live_.contains(ptr); }
  size_t Release();
  size_t touched() const;
  size_t mappings() const { return mappings_.size(); }

 private:
  struct Mapping {
    char* base = nullptr;
    size_t size = 0;
    size_t high_water = 0;          // end of the highest range handed out
    std::map<size_t, size_t> free;  // offset → length, address order, merged
    size_t live_blocks = 0;
  };
  struct Block {
    Mapping* mapping = nullptr;
    size_t offset = 0;
    size_t length = 0;
  };
  Mapping* NewMapping(size_t bytes);

  const size_t mapping_bytes_;
  std::vector<std::unique_ptr<Mapping>> mappings_;  // in creation order
  std::unordered_map<const void*, Block> live_;
};

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_HOST_ARENA_H_

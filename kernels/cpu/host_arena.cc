#include "kernels/cpu/host_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "base/check.h"

namespace edbp::kernels::cpu {
namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

HostArena::HostArena(size_t mapping_bytes)
    : mapping_bytes_(RoundUp(std::max<size_t>(mapping_bytes, 1), PageSize())) {}

HostArena::~HostArena() {
  for (const auto& m : mappings_) munmap(m->base, m->size);
}

HostArena::Mapping* HostArena::NewMapping(size_t bytes) {
  if (bytes > (size_t{1} << 62)) return nullptr;  // RoundUp would overflow
  const size_t size = std::max(mapping_bytes_, RoundUp(bytes, PageSize()));
  // MAP_NORESERVE: address space only; pages are committed as they are touched.
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  auto m = std::make_unique<Mapping>();
  m->base = static_cast<char*>(base);
  m->size = size;
  m->free.emplace(0, size);
  mappings_.push_back(std::move(m));
  return mappings_.back().get();
}

void* HostArena::Allocate(size_t bytes) {
  EDBP_CHECK(bytes > 0 && bytes % kAlign == 0) << "HostArena::Allocate(" << bytes << ")";
  // First fit in address order, oldest mapping first: low addresses are reused first.
  Mapping* mapping = nullptr;
  std::map<size_t, size_t>::iterator range;
  for (const auto& m : mappings_) {
    range = std::find_if(m->free.begin(), m->free.end(),
                         [bytes](const auto& r) { return r.second >= bytes; });
    if (range != m->free.end()) {
      mapping = m.get();
      break;
    }
  }
  if (mapping == nullptr) {
    mapping = NewMapping(bytes);
    if (mapping == nullptr) return nullptr;
    range = mapping->free.begin();
  }
  const size_t offset = range->first;
  const size_t rest = range->second - bytes;
  mapping->free.erase(range);
  if (rest > 0) mapping->free.emplace(offset + bytes, rest);
  mapping->high_water = std::max(mapping->high_water, offset + bytes);
  ++mapping->live_blocks;
  char* ptr = mapping->base + offset;
  live_.emplace(ptr, Block{mapping, offset, bytes});
  return ptr;
}

size_t HostArena::Deallocate(void* ptr) {
  auto it = live_.find(ptr);
  EDBP_CHECK(it != live_.end()) << "HostArena::Deallocate of a pointer it did not give";
  const Block block = it->second;
  live_.erase(it);
  Mapping& m = *block.mapping;
  --m.live_blocks;
  size_t offset = block.offset, length = block.length;
  // Merge with the free neighbours on both sides.
  auto next = m.free.lower_bound(offset);
  if (next != m.free.end() && next->first == offset + length) {
    length += next->second;
    next = m.free.erase(next);
  }
  if (next != m.free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      offset = prev->first;
      length += prev->second;
      m.free.erase(prev);
    }
  }
  m.free.emplace(offset, length);
  return block.length;
}

size_t HostArena::Release() {
  const size_t before = touched();
  const size_t page = PageSize();
  for (auto it = mappings_.begin(); it != mappings_.end();) {
    Mapping& m = **it;
    if (m.live_blocks == 0) {
      munmap(m.base, m.size);
      it = mappings_.erase(it);
      continue;
    }
    for (const auto& [offset, length] : m.free) {
      const size_t begin = RoundUp(offset, page);
      const size_t end = std::min(offset + length, m.high_water) / page * page;
      if (begin < end) madvise(m.base + begin, end - begin, MADV_DONTNEED);
      // The free range at the top lowers the high-water mark to the live end below it.
      if (offset + length == m.size) m.high_water = std::min(m.high_water, offset);
    }
    ++it;
  }
  return before - touched();
}

size_t HostArena::touched() const {
  size_t total = 0;
  for (const auto& m : mappings_) total += m->high_water;
  return total;
}

}  // namespace edbp::kernels::cpu

// Scratch memory of the CPU kernels: std::vector storage aligned to a 64-byte cache
// line. malloc aligns to 16 bytes (large blocks sit 16 bytes past a page start), so a
// 64-byte vector load from a std::vector<float> spans two cache lines and the gather
// kernels' load throughput halves.
//
// Include this only from kernels/cpu/*.cc.
#ifndef EDBP_KERNELS_CPU_BUFFER_H_
#define EDBP_KERNELS_CPU_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace edbp::kernels::cpu {

template <typename T>
struct LineAligned {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  LineAligned() = default;
  template <typename U>
  explicit LineAligned(const LineAligned<U>& /*other*/) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t /*n*/) { ::operator delete(p, kAlign); }
  template <typename U>
  bool operator==(const LineAligned<U>& /*other*/) const {
    return true;
  }
};

template <typename T>
using Buffer = std::vector<T, LineAligned<T>>;

// v's storage, grown to at least `count` elements (it never shrinks, so a loop of
// same-shaped calls stops allocating after its first).
template <typename T>
T* Grow(Buffer<T>& v, int64_t count) {
  if (v.size() < static_cast<size_t>(count)) v.resize(static_cast<size_t>(count));
  return v.data();
}

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_BUFFER_H_

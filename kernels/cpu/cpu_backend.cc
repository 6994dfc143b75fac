#include "kernels/cpu/cpu_backend.h"

#include <cblas.h>
#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cpu/cpu_ops.h"

namespace edbp::kernels {

CpuBackend::CpuBackend() {
  // Our ops parallelise themselves (parallel.h); a threaded OpenBLAS inside them
  // would oversubscribe the cores.
  openblas_set_num_threads(1);
}

bool CpuBackend::Supports(Op op) const { return op != Op::kNumOps; }

absl::StatusOr<void*> CpuBackend::Allocate(size_t bytes) {
  constexpr size_t kAlign = cpu::HostArena::kAlign;
  if (bytes > (size_t{1} << 62)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("CPU allocation of ", bytes, " bytes failed"));
  }
  size_t rounded = ((bytes + kAlign - 1) / kAlign + (bytes == 0)) * kAlign;
  std::lock_guard<std::mutex> lock(mu_);
  void* ptr = nullptr;
  if (rounded >= kArenaMinBytes) {
    ptr = arena_.Allocate(rounded);
  } else if (auto it = cached_.find(rounded); it != cached_.end()) {
    ptr = it->second;
    cached_.erase(it);
  } else {
    ptr = std::aligned_alloc(kAlign, rounded);
    if (ptr != nullptr) small_reserved_ += rounded;
  }
  if (ptr == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("CPU allocation of ", bytes, " bytes failed"));
  }
  if (rounded < kArenaMinBytes) live_small_.emplace(ptr, rounded);
  stats_.in_use += rounded;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  UpdateReservedLocked();
  return ptr;
}

void CpuBackend::Deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (arena_.Owns(ptr)) {
    stats_.in_use -= arena_.Deallocate(ptr);
    return;
  }
  auto it = live_small_.find(ptr);
  EDBP_CHECK(it != live_small_.end())
      << "Deallocate of a pointer this backend did not allocate";
  cached_.emplace(it->second, ptr);
  stats_.in_use -= it->second;
  live_small_.erase(it);
}

void CpuBackend::UpdateReservedLocked() {
  stats_.reserved = small_reserved_ + arena_.touched();
  stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
}

DeviceMemoryStats CpuBackend::MemoryStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CpuBackend::ResetPeakMemory() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.RestartPeaks();
}

size_t CpuBackend::ReleaseCachedMemory() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t freed = arena_.Release();
  for (auto& [bytes, ptr] : cached_) {
    std::free(ptr);
    freed += bytes;
    small_reserved_ -= bytes;
  }
  cached_.clear();
  UpdateReservedLocked();
  // glibc serves small blocks from its arena and keeps freed arena pages: give them
  // back too.
  malloc_trim(0);
  return freed;
}

absl::Status CpuBackend::CopyHostToDevice(void* dst, const void* host_src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, host_src, bytes);
  return absl::OkStatus();
}
absl::Status CpuBackend::CopyDeviceToHost(void* host_dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(host_dst, src, bytes);
  return absl::OkStatus();
}
absl::Status CpuBackend::CopyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
  return absl::OkStatus();
}

namespace {

// The free functions of cpu_ops.h CHECK their shapes and cannot fail otherwise (void);
// those that take values from outside (LabelInject: the data set's labels) return their
// Status.
template <typename Args>
absl::Status Call(void (*op)(const Args&), const Args& args) {
  op(args);
  return absl::OkStatus();
}
template <typename Args>
absl::Status Call(absl::Status (*op)(const Args&), const Args& args) {
  return op(args);
}

}  // namespace

#define EDBP_CPU_OP(Name) \
  absl::Status CpuBackend::Name(const Name##Args& args) { return Call(&cpu::Name, args); }
EDBP_KERNEL_OPS(EDBP_CPU_OP)
#undef EDBP_CPU_OP

}  // namespace edbp::kernels

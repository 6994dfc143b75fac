// The CPU backend: host memory, OpenBLAS, the ParallelFor pool. Supports every op.
// Obtain it through kernels/registry.h (GetBackend({DeviceType::kCpu})).
//
// Memory: blocks of kArenaMinBytes and more come from a HostArena (host_arena.h): freed
// ranges merge and are reused first-fit, so a training loop that allocates the same
// tensors every step touches little more than its peak of live tensors, and stops
// taking page faults after its first step. Smaller blocks are cached by size and handed
// out again for the same rounded size. ReleaseCachedMemory() returns what no live
// block uses to the system. MemoryStats(): in_use counts the rounded bytes handed out;
// reserved is an upper bound of what the backend holds (cached small blocks, and each
// arena mapping up to the highest range it handed out). Thread-safe.
#ifndef EDBP_KERNELS_CPU_CPU_BACKEND_H_
#define EDBP_KERNELS_CPU_CPU_BACKEND_H_

#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "kernels/backend.h"
#include "kernels/cpu/host_arena.h"

namespace edbp::kernels {

class CpuBackend final : public Backend {
 public:
  CpuBackend();

  Device device() const override { return Device{DeviceType::kCpu, 0}; }
  bool Supports(Op op) const override;

  absl::StatusOr<void*> Allocate(size_t bytes) override;
  void Deallocate(void* ptr) override;
  absl::Status CopyHostToDevice(void* dst, const void* host_src, size_t bytes) override;
  absl::Status CopyDeviceToHost(void* host_dst, const void* src, size_t bytes) override;
  absl::Status CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  absl::Status Synchronize() override { return absl::OkStatus(); }
  DeviceMemoryStats MemoryStats() const override;
  void ResetPeakMemory() override;
  size_t ReleaseCachedMemory() override;

  EDBP_KERNEL_OP_OVERRIDES  // every op of ops.h

      private : static constexpr size_t kArenaMinBytes = size_t{1} << 20;
  void UpdateReservedLocked();

  mutable std::mutex mu_;
  cpu::HostArena arena_;                           // guarded by mu_: blocks ≥ 1 MiB
  std::unordered_map<void*, size_t> live_small_;   // guarded by mu_: ptr → bytes
  std::unordered_multimap<size_t, void*> cached_;  // guarded by mu_: bytes → ptr
  size_t small_reserved_ = 0;                      // guarded by mu_: live + cached small
  DeviceMemoryStats stats_;                        // guarded by mu_
};

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_CPU_CPU_BACKEND_H_

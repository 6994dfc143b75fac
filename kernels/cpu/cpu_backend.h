// The CPU backend: host memory, OpenBLAS, the ParallelFor pool. Supports every op.
// Obtain it through kernels/registry.h (GetBackend({DeviceType::kCpu})).
//
// Memory is cached: a freed block is kept and handed out again for the next request
// of the same rounded size, so a training loop that allocates the same tensors every
// step stops touching the OS (and taking page faults) after its first step. The cache
// is thread-safe; ReleaseCachedMemory() returns it to the system.
#ifndef EDBP_KERNELS_CPU_CPU_BACKEND_H_
#define EDBP_KERNELS_CPU_CPU_BACKEND_H_

#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "kernels/backend.h"

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
  // Frees every cached block; returns the bytes freed.
  size_t ReleaseCachedMemory();

  EDBP_KERNEL_OP_OVERRIDES  // every op of ops.h

      private : std::mutex mu_;
  std::unordered_map<void*, size_t> live_;         // guarded by mu_: ptr → bytes
  std::unordered_multimap<size_t, void*> cached_;  // guarded by mu_: bytes → ptr
};

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_CPU_CPU_BACKEND_H_

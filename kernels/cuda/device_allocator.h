// A caching allocator of device memory for one GPU.
//
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, and a
// training step allocates the same tensors every batch: freed blocks are therefore
// kept in per-size bins and handed out again. All work of a backend runs on its one
// stream, so a block freed while kernels that use it are still queued can be reused at
// once: the next user's kernels are ordered after them on the same stream.
//
// Thread-safe (Tensors may be released from any thread). Host-compiled only.
#ifndef EDBP_KERNELS_CUDA_DEVICE_ALLOCATOR_H_
#define EDBP_KERNELS_CUDA_DEVICE_ALLOCATOR_H_

#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace edbp::kernels::cuda {

class DeviceAllocator {
 public:
  // `device` is the CUDA ordinal the memory comes from; the caller makes it current.
  explicit DeviceAllocator(int device) : device_(device) {}
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;
  ~DeviceAllocator();

  // At least `bytes` (0 is fine) of device memory, 256-byte aligned. When cudaMalloc
  // runs out it frees the cache and tries once more; then RESOURCE_EXHAUSTED naming the
  // request and what is in use.
  absl::StatusOr<void*> Allocate(size_t bytes);
  // Returns a block to the cache. CHECKs that it came from Allocate.
  void Deallocate(void* ptr);
  // cudaFree of every cached block; returns the bytes released.
  size_t ReleaseCached();

  DeviceMemoryStats stats() const;
  void ResetPeak();

 private:
  static size_t RoundUp(size_t bytes);
  size_t ReleaseCachedLocked();

  const int device_;
  mutable std::mutex mu_;
  std::unordered_map<void*, size_t> live_;         // guarded by mu_: ptr -> rounded bytes
  std::unordered_multimap<size_t, void*> cached_;  // guarded by mu_: rounded bytes -> ptr
  DeviceMemoryStats stats_;                        // guarded by mu_
};

// A block from a DeviceAllocator for the duration of one scope (scratch and
// workspaces). Returning it right after its kernels are enqueued is safe: the backend's
// one stream orders the block's next user after them.
class ScopedDeviceBlock {
 public:
  explicit ScopedDeviceBlock(DeviceAllocator* allocator) : allocator_(allocator) {}
  ~ScopedDeviceBlock() { allocator_->Deallocate(ptr_); }
  ScopedDeviceBlock(const ScopedDeviceBlock&) = delete;
  ScopedDeviceBlock& operator=(const ScopedDeviceBlock&) = delete;
  // Allocates `bytes`; 0 leaves get() null.
  absl::Status Allocate(size_t bytes) {
    if (bytes == 0) return absl::OkStatus();
    absl::StatusOr<void*> ptr = allocator_->Allocate(bytes);
    if (!ptr.ok()) return ptr.status();
    ptr_ = *ptr;
    return absl::OkStatus();
  }
  void* get() const { return ptr_; }

 private:
  DeviceAllocator* allocator_;
  void* ptr_ = nullptr;
};

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_DEVICE_ALLOCATOR_H_

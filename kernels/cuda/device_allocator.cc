#include "kernels/cuda/device_allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cuda/cuda_check.h"

namespace edbp::kernels::cuda {

DeviceAllocator::~DeviceAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseCachedLocked();
  // Blocks still live belong to Tensors that outlive the backend; leave them.
}

size_t DeviceAllocator::RoundUp(size_t bytes) {
  // Small blocks to 512 bytes, larger ones to 1 MiB steps above 8 MiB so that sizes
  // that differ a little (another batch size) still share a bin.
  constexpr size_t kSmall = 512;
  constexpr size_t kLarge = size_t{1} << 20;
  if (bytes <= (size_t{8} << 20))
    return std::max(kSmall, (bytes + kSmall - 1) / kSmall * kSmall);
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

absl::StatusOr<void*> DeviceAllocator::Allocate(size_t bytes) {
  const size_t rounded = RoundUp(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* ptr = nullptr;
  if (auto it = cached_.find(rounded); it != cached_.end()) {
    ptr = it->second;
    cached_.erase(it);
  } else {
    cudaError_t err = cudaMalloc(&ptr, rounded);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      ReleaseCachedLocked();
      err = cudaMalloc(&ptr, rounded);
    }
    if (err != cudaSuccess) {
      absl::Status status =
          CudaStatus(err, "cudaMalloc(&ptr, rounded)", __FILE__, __LINE__);
      return absl::Status(status.code(),
                          absl::StrCat(status.message(), " (request of ", bytes,
                                       " bytes on cuda:", device_, "; ", stats_.in_use,
                                       " bytes in use)"));
    }
    stats_.reserved += rounded;
    stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
  }
  live_.emplace(ptr, rounded);
  stats_.in_use += rounded;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  return ptr;
}

void DeviceAllocator::Deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  EDBP_CHECK(it != live_.end())
      << "Deallocate of a pointer this allocator did not allocate";
  stats_.in_use -= it->second;
  cached_.emplace(it->second, ptr);
  live_.erase(it);
}

size_t DeviceAllocator::ReleaseCached() {
  std::lock_guard<std::mutex> lock(mu_);
  return ReleaseCachedLocked();
}

size_t DeviceAllocator::ReleaseCachedLocked() {
  size_t freed = 0;
  for (auto& [bytes, ptr] : cached_) {
    // cudaFree synchronises the device first, so no queued kernel still uses ptr. A
    // failure here (a dead context) leaves nothing to recover: the memory goes with it.
    if (cudaFree(ptr) != cudaSuccess) cudaGetLastError();
    freed += bytes;
  }
  cached_.clear();
  stats_.reserved -= freed;
  return freed;
}

DeviceMemoryStats DeviceAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void DeviceAllocator::ResetPeak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.RestartPeaks();
}

}  // namespace edbp::kernels::cuda

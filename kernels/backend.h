// The Backend interface: memory, copies, synchronisation and the ops of ops.h.
//
// A Backend owns no tensors; core/Tensor allocates through it. One Backend instance
// serves one job (one CUDA stream on the GPU): it is NOT thread-safe, call it from
// one thread at a time. The CPU backend parallelises each op internally.
//
// Failure modes: every method returns absl::Status so that a failed device allocation
// or kernel launch fails the job with a message naming the call, never the process.
// Calling an op that Supports() reports false for returns UNIMPLEMENTED.
#ifndef EDBP_KERNELS_BACKEND_H_
#define EDBP_KERNELS_BACKEND_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/ops.h"

namespace edbp::kernels {

enum class DeviceType {
  kCpu,   // host memory, OpenBLAS, threads over the available cores
  kCuda,  // an NVIDIA GPU through the CUDA runtime
};

struct Device {
  DeviceType type = DeviceType::kCpu;
  int index = 0;                 // GPU ordinal; always 0 for the CPU
  std::string ToString() const;  // "cpu" or "cuda:0"
  friend bool operator==(const Device&, const Device&) = default;
};

// Memory held by a backend's caching allocator, in bytes (Backend::MemoryStats; for a
// device, GetDeviceMemoryStats in registry.h).
struct DeviceMemoryStats {
  size_t in_use = 0;         // handed out and not yet returned
  size_t peak_in_use = 0;    // maximum of in_use since creation or the last reset
  size_t reserved = 0;       // held from the driver: in use + cached
  size_t peak_reserved = 0;  // maximum of reserved

  // The peaks restart from the current values.
  void RestartPeaks() {
    peak_in_use = in_use;
    peak_reserved = reserved;
  }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  // Whether this backend implements `op`.
  virtual bool Supports(Op op) const = 0;

  // ---- memory -------------------------------------------------------------------
  // Returns at least `bytes` bytes of backend memory aligned to 64 bytes; bytes == 0
  // yields a valid unique pointer. RESOURCE_EXHAUSTED when memory runs out.
  virtual absl::StatusOr<void*> Allocate(size_t bytes) = 0;
  virtual void Deallocate(void* ptr) = 0;
  virtual absl::Status CopyHostToDevice(void* dst, const void* host_src,
                                        size_t bytes) = 0;
  virtual absl::Status CopyDeviceToHost(void* host_dst, const void* src,
                                        size_t bytes) = 0;
  virtual absl::Status CopyDeviceToDevice(void* dst, const void* src, size_t bytes) = 0;
  // Waits until every op issued so far has finished.
  virtual absl::Status Synchronize() = 0;

  // Both backends cache freed blocks by size and hand them out again, so a loop that
  // allocates the same tensors every step stops asking the system for memory. A phase
  // that allocates other sizes (the init bisection, the test pass, the last partial
  // batch) leaves its blocks cached: the trainer releases them when a phase ends.
  virtual DeviceMemoryStats MemoryStats() const = 0;
  // The peaks restart from the current values.
  virtual void ResetPeakMemory() = 0;
  // Returns every cached block to the system; the bytes released.
  virtual size_t ReleaseCachedMemory() = 0;

  // ---- ops (see ops.h for the meaning of each argument) -------------------------
  // One method per entry of EDBP_KERNEL_OPS: absl::Status Name(const NameArgs& args).
#define EDBP_OP_PURE_VIRTUAL(Name) virtual absl::Status Name(const Name##Args& args) = 0;
  EDBP_KERNEL_OPS(EDBP_OP_PURE_VIRTUAL)
#undef EDBP_OP_PURE_VIRTUAL
};

// In a backend's class: every op of EDBP_KERNEL_OPS declared as an override.
#define EDBP_OP_OVERRIDE(Name) absl::Status Name(const Name##Args& args) override;
#define EDBP_KERNEL_OP_OVERRIDES EDBP_KERNEL_OPS(EDBP_OP_OVERRIDE)

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_BACKEND_H_

// The CUDA backend: device memory from a caching allocator, one CUDA stream, a cuBLAS
// and a cuDNN handle bound to that stream, and every op of ops.h (custom kernels in the
// .cu files of this folder, GEMM through cuBLAS, convolutions through cuDNN).
//
// Plain C++ header (no CUDA types): kernels/registry.cc includes it. Obtain the backend
// through kernels/registry.h (GetBackend({DeviceType::kCuda, i})), which keeps one per
// device for the life of the process.
//
// Contract, beyond backend.h:
// - Ops are enqueued on the stream and return before the GPU finishes. Every op whose
//   result lands in host memory (SumSquares, ReduceStats, the losses' *loss) and
//   CopyDeviceToHost wait for the stream, so host values are ready on return.
//   CopyHostToDevice returns once the host buffer may be reused.
// - Errors: any failed CUDA, cuBLAS or cuDNN call is returned as a Status naming the
//   call, file and line (cuda_check.h); out-of-memory is RESOURCE_EXHAUSTED. A launch
//   error of an asynchronous kernel may surface at the next call that waits. After an
//   error the job should stop: a sticky CUDA error poisons the context.
// - CopyDeviceToDevice ranges must not overlap (the CPU allows it; core/ never does).
// - LabelInject returns INVALID_ARGUMENT for a label outside [0, classes), as the CPU
//   backend does (ops.h).
// - Not thread-safe (backend.h); Deallocate may be called from any thread.
#ifndef EDBP_KERNELS_CUDA_CUDA_BACKEND_H_
#define EDBP_KERNELS_CUDA_CUDA_BACKEND_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace edbp::kernels {

class CudaBackend final : public Backend {
 public:
  // Creates the stream and handles on CUDA device `index`. Errors name the failed call
  // (e.g. cudaSetDevice on a machine without the device, cudnnCreate without cuDNN).
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(int index);
  ~CudaBackend() override;

  Device device() const override;
  bool Supports(Op op) const override;

  absl::StatusOr<void*> Allocate(size_t bytes) override;
  void Deallocate(void* ptr) override;
  absl::Status CopyHostToDevice(void* dst, const void* host_src, size_t bytes) override;
  absl::Status CopyDeviceToHost(void* host_dst, const void* src, size_t bytes) override;
  absl::Status CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  absl::Status Synchronize() override;

  DeviceMemoryStats MemoryStats() const override;
  void ResetPeakMemory() override;
  size_t ReleaseCachedMemory() override;

  // The backend's stream (a cudaStream_t), for a collective that must run in order
  // with its ops (nccl_collective.h).
  void* raw_stream() const;

  EDBP_KERNEL_OP_OVERRIDES  // every op of ops.h

      private : struct Impl;  // CUDA types live in cuda_backend.cc
  explicit CudaBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Testing: leaves a non-sticky error pending in the CUDA runtime, as a library call can
// (a cudaMalloc of 2^60 bytes that fails, not cleared); true when one is pending
// afterwards. The next op must still succeed: each launcher clears it first.
bool PlantPendingCudaErrorForTesting();

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_CUDA_CUDA_BACKEND_H_

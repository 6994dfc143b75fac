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

  // ---- ops (see ops.h for the meaning of each argument) -------------------------
  virtual absl::Status Fill(const FillArgs& args) = 0;
  virtual absl::Status Scale(const ScaleArgs& args) = 0;
  virtual absl::Status Mul(const MulArgs& args) = 0;
  virtual absl::Status Axpy(const AxpyArgs& args) = 0;
  virtual absl::Status SumSquares(const SumSquaresArgs& args) = 0;
  virtual absl::Status ReduceStats(const ReduceStatsArgs& args) = 0;
  virtual absl::Status SpikeCount(const SpikeCountArgs& args) = 0;
  virtual absl::Status Gemm(const GemmArgs& args) = 0;
  virtual absl::Status NeuronForward(const NeuronForwardArgs& args) = 0;
  virtual absl::Status NeuronBackward(const NeuronBackwardArgs& args) = 0;
  virtual absl::Status Conv2dForward(const Conv2dForwardArgs& args) = 0;
  virtual absl::Status Conv2dBackwardData(const Conv2dBackwardDataArgs& args) = 0;
  virtual absl::Status Conv2dBackwardFilter(const Conv2dBackwardFilterArgs& args) = 0;
  virtual absl::Status Pool2dForward(const Pool2dForwardArgs& args) = 0;
  virtual absl::Status Pool2dBackward(const Pool2dBackwardArgs& args) = 0;
  virtual absl::Status WeightStdForward(const WeightStdForwardArgs& args) = 0;
  virtual absl::Status WeightStdBackward(const WeightStdBackwardArgs& args) = 0;
  virtual absl::Status DropoutApply(const DropoutApplyArgs& args) = 0;
  virtual absl::Status LabelInject(const LabelInjectArgs& args) = 0;
  virtual absl::Status CountLoss(const CountLossArgs& args) = 0;
  virtual absl::Status KernelLoss(const KernelLossArgs& args) = 0;
  virtual absl::Status TetLoss(const TetLossArgs& args) = 0;
  virtual absl::Status SgdStep(const SgdStepArgs& args) = 0;
  virtual absl::Status AdamStep(const AdamStepArgs& args) = 0;
};

}  // namespace edbp::kernels

#endif  // EDBP_KERNELS_BACKEND_H_

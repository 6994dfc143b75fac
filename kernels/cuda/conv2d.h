// 2-D convolution (no bias, groups 1) through cuDNN 9's convolution API
// (host-compiled only).
//
// Per shape (Conv2dShape) the descriptors and, for each direction, the algorithm are
// chosen once and cached: the first algorithm of cuDNN's heuristic ranking that is
// deterministic, not a tensor-op variant (the descriptor runs CUDNN_FMA_MATH: plain
// FP32, no TF32, ALGORITHM.md §12; an algorithm that then reports NOT_SUPPORTED is
// replaced once by the always-available implicit GEMM / algorithm 1), is not
// an FFT or Winograd variant (their rounding differs from a direct sum by more than the
// 1e-5 the CPU comparison allows) and needs at most kMaxWorkspaceBytes of workspace.
// The workspace comes from the backend's caching allocator for each call.
//
// Not thread-safe (one per backend, like the backend itself).
#ifndef EDBP_KERNELS_CUDA_CONV2D_H_
#define EDBP_KERNELS_CUDA_CONV2D_H_

#include <cudnn.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/cuda/device_allocator.h"
#include "kernels/ops.h"

namespace edbp::kernels::cuda {

class Conv2dRunner {
 public:
  static constexpr size_t kMaxWorkspaceBytes = size_t{1} << 30;

  // `handle` is already bound to the backend's stream; both outlive the runner.
  Conv2dRunner(cudnnHandle_t handle, DeviceAllocator* allocator)
      : handle_(handle), allocator_(allocator) {}
  ~Conv2dRunner() = default;
  Conv2dRunner(const Conv2dRunner&) = delete;
  Conv2dRunner& operator=(const Conv2dRunner&) = delete;

  absl::Status Forward(const Conv2dForwardArgs& args);
  absl::Status BackwardData(const Conv2dBackwardDataArgs& args);
  absl::Status BackwardFilter(const Conv2dBackwardFilterArgs& args);

 private:
  // Descriptors of one shape; algorithms are picked on first use of each direction.
  struct Plan {
    Plan() = default;
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;
    ~Plan();  // destroys the descriptors that were created
    cudnnTensorDescriptor_t x = nullptr;
    cudnnTensorDescriptor_t y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    bool have_fwd = false, have_bwd_data = false, have_bwd_filter = false;
    cudnnConvolutionFwdAlgo_t fwd{};
    cudnnConvolutionBwdDataAlgo_t bwd_data{};
    cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
    size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
  };
  using Key = std::array<int64_t, 13>;

  absl::StatusOr<Plan*> GetPlan(const Conv2dShape& s);
  absl::Status ChooseForward(Plan* p);
  absl::Status ChooseBackwardData(Plan* p);
  absl::Status ChooseBackwardFilter(Plan* p);

  cudnnHandle_t handle_;
  DeviceAllocator* allocator_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_CONV2D_H_

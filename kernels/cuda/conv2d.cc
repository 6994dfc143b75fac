#include "kernels/cuda/conv2d.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cuda/cuda_check.h"

namespace edbp::kernels::cuda {
namespace {

constexpr int64_t kIntMax = 0x7fffffff;  // cuDNN's 4-d descriptors take int

void CheckShape(const Conv2dShape& s, const char* op) {
  EDBP_CHECK(s.n >= 0 && s.c_in >= 1 && s.h >= 1 && s.w >= 1 && s.c_out >= 1 &&
             s.kh >= 1 && s.kw >= 1 && s.stride_h >= 1 && s.stride_w >= 1 &&
             s.pad_h >= 0 && s.pad_w >= 0 && s.dil_h >= 1 && s.dil_w >= 1)
      << op << ": bad shape n=" << s.n << " c_in=" << s.c_in << " h=" << s.h
      << " w=" << s.w << " c_out=" << s.c_out << " kernel=" << s.kh << "x" << s.kw;
  EDBP_CHECK(s.out_h() >= 1 && s.out_w() >= 1)
      << op << ": empty output " << s.out_h() << "x" << s.out_w();
  EDBP_CHECK(std::max({s.n, s.c_in, s.h, s.w, s.c_out, s.kh, s.kw}) <= kIntMax &&
             s.n * s.c_in * s.h * s.w <= kIntMax &&
             s.n * s.c_out * s.out_h() * s.out_w() <= kIntMax)
      << op << ": size exceeds cuDNN's 32-bit descriptors";
}

// The first acceptable entry of a heuristic ranking (see conv2d.h), or `fallback`.
template <typename Perf, typename Algo>
Algo Pick(const Perf* perf, int count, std::initializer_list<Algo> excluded,
          Algo fallback, size_t* workspace) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC ||
        p.mathType == CUDNN_TENSOR_OP_MATH ||
        p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ||
        p.memory > Conv2dRunner::kMaxWorkspaceBytes) {
      continue;
    }
    if (std::find(excluded.begin(), excluded.end(), p.algo) != excluded.end()) continue;
    *workspace = p.memory;
    return p.algo;
  }
  *workspace = 0;  // the caller asks cuDNN for the fallback's workspace
  return fallback;
}

}  // namespace

Conv2dRunner::Plan::~Plan() {
  // Destroying a host-side descriptor cannot fail in a way that leaves work to do.
  if (x != nullptr) cudnnDestroyTensorDescriptor(x);
  if (y != nullptr) cudnnDestroyTensorDescriptor(y);
  if (w != nullptr) cudnnDestroyFilterDescriptor(w);
  if (conv != nullptr) cudnnDestroyConvolutionDescriptor(conv);
}

absl::StatusOr<Conv2dRunner::Plan*> Conv2dRunner::GetPlan(const Conv2dShape& s) {
  const Key key = {s.n,        s.c_in,     s.h,     s.w,     s.c_out, s.kh,   s.kw,
                   s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.dil_h, s.dil_w};
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  Plan* p = plan.get();
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(&p->x));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(&p->y));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnCreateFilterDescriptor(&p->w));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnCreateConvolutionDescriptor(&p->conv));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnSetTensor4dDescriptor(
      p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(s.n), i(s.c_in), i(s.h), i(s.w)));
  EDBP_CUDNN_RETURN_IF_ERROR(
      cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(s.n),
                                 i(s.c_out), i(s.out_h()), i(s.out_w())));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT,
                                                        CUDNN_TENSOR_NCHW, i(s.c_out),
                                                        i(s.c_in), i(s.kh), i(s.kw)));
  // Cross-correlation, as PyTorch's conv2d and the CPU's im2col (§5).
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnSetConvolution2dDescriptor(
      p->conv, i(s.pad_h), i(s.pad_w), i(s.stride_h), i(s.stride_w), i(s.dil_h),
      i(s.dil_w), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // §12: FP32 arithmetic; CUDNN_DEFAULT_MATH would allow TF32 on Ampere and later.
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH));
  // The output size cuDNN computes must be ours.
  int n = 0, c = 0, h = 0, w = 0;
  EDBP_CUDNN_RETURN_IF_ERROR(
      cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &n, &c, &h, &w));
  if (n != s.n || c != s.c_out || h != s.out_h() || w != s.out_w()) {
    return absl::InternalError(absl::StrCat("cuDNN output shape ", n, "x", c, "x", h, "x",
                                            w, " differs from ", s.n, "x", s.c_out, "x",
                                            s.out_h(), "x", s.out_w()));
  }
  plans_.emplace(key, std::move(plan));  // only a complete plan is cached
  return p;
}

absl::Status Conv2dRunner::ChooseForward(Plan* p) {
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int count = 0;
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionForwardAlgorithm_v7(
      handle_, p->x, p->w, p->conv, p->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
      perf));
  p->fwd = Pick(
      perf, count,
      {CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
       CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED},
      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, &p->fwd_ws);
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionForwardWorkspaceSize(
      handle_, p->x, p->w, p->conv, p->y, p->fwd, &p->fwd_ws));
  p->have_fwd = true;
  return absl::OkStatus();
}

absl::Status Conv2dRunner::ChooseBackwardData(Plan* p) {
  cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int count = 0;
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      handle_, p->w, p->y, p->conv, p->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
      perf));
  p->bwd_data =
      Pick(perf, count,
           {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED},
           CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, &p->bwd_data_ws);
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardDataWorkspaceSize(
      handle_, p->w, p->y, p->conv, p->x, p->bwd_data, &p->bwd_data_ws));
  p->have_bwd_data = true;
  return absl::OkStatus();
}

absl::Status Conv2dRunner::ChooseBackwardFilter(Plan* p) {
  cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int count = 0;
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      handle_, p->x, p->y, p->conv, p->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
      perf));
  p->bwd_filter =
      Pick(perf, count,
           {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED},
           CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, &p->bwd_filter_ws);
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      handle_, p->x, p->y, p->conv, p->w, p->bwd_filter, &p->bwd_filter_ws));
  p->have_bwd_filter = true;
  return absl::OkStatus();
}

absl::Status Conv2dRunner::Forward(const Conv2dForwardArgs& a) {
  CheckShape(a.shape, "Conv2dForward");
  if (a.shape.n == 0) return absl::OkStatus();
  EDBP_ASSIGN_OR_RETURN(Plan * p, GetPlan(a.shape));
  if (!p->have_fwd) EDBP_RETURN_IF_ERROR(ChooseForward(p));
  const float alpha = 1, beta = 0;
  for (int attempt = 0;; ++attempt) {
    ScopedDeviceBlock ws(allocator_);
    EDBP_RETURN_IF_ERROR(ws.Allocate(p->fwd_ws));
    const cudnnStatus_t st =
        cudnnConvolutionForward(handle_, &alpha, p->x, a.x, p->w, a.w, p->conv, p->fwd,
                                ws.get(), p->fwd_ws, &beta, p->y, a.y);
    if (CudnnNotSupported(st) && attempt == 0 &&
        p->fwd != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) {
      // The heuristic's pick does not run in FP32-FMA mode: use the plain algorithm.
      p->fwd = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
      EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionForwardWorkspaceSize(
          handle_, p->x, p->w, p->conv, p->y, p->fwd, &p->fwd_ws));
      continue;
    }
    EDBP_RETURN_IF_ERROR(
        CudnnStatus(st, "cudnnConvolutionForward(...)", __FILE__, __LINE__));
    return absl::OkStatus();
  }
}

absl::Status Conv2dRunner::BackwardData(const Conv2dBackwardDataArgs& a) {
  CheckShape(a.shape, "Conv2dBackwardData");
  if (a.shape.n == 0) return absl::OkStatus();
  EDBP_ASSIGN_OR_RETURN(Plan * p, GetPlan(a.shape));
  if (!p->have_bwd_data) EDBP_RETURN_IF_ERROR(ChooseBackwardData(p));
  const float alpha = 1, beta = 0;
  for (int attempt = 0;; ++attempt) {
    ScopedDeviceBlock ws(allocator_);
    EDBP_RETURN_IF_ERROR(ws.Allocate(p->bwd_data_ws));
    const cudnnStatus_t st = cudnnConvolutionBackwardData(
        handle_, &alpha, p->w, a.w, p->y, a.dy, p->conv, p->bwd_data, ws.get(),
        p->bwd_data_ws, &beta, p->x, a.dx);
    if (CudnnNotSupported(st) && attempt == 0 &&
        p->bwd_data != CUDNN_CONVOLUTION_BWD_DATA_ALGO_1) {
      p->bwd_data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;  // see Forward
      EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardDataWorkspaceSize(
          handle_, p->w, p->y, p->conv, p->x, p->bwd_data, &p->bwd_data_ws));
      continue;
    }
    EDBP_RETURN_IF_ERROR(
        CudnnStatus(st, "cudnnConvolutionBackwardData(...)", __FILE__, __LINE__));
    return absl::OkStatus();
  }
}

absl::Status Conv2dRunner::BackwardFilter(const Conv2dBackwardFilterArgs& a) {
  const Conv2dShape& s = a.shape;
  CheckShape(s, "Conv2dBackwardFilter");
  if (s.n == 0) {  // no samples: dW = 0, as the CPU's empty sum
    cudaStream_t stream = nullptr;
    EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetStream(handle_, &stream));
    EDBP_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(
        a.dw, 0, static_cast<size_t>(s.c_out * s.c_in * s.kh * s.kw) * sizeof(float),
        stream));
    return absl::OkStatus();
  }
  EDBP_ASSIGN_OR_RETURN(Plan * p, GetPlan(s));
  if (!p->have_bwd_filter) EDBP_RETURN_IF_ERROR(ChooseBackwardFilter(p));
  const float alpha = 1, beta = 0;
  for (int attempt = 0;; ++attempt) {
    ScopedDeviceBlock ws(allocator_);
    EDBP_RETURN_IF_ERROR(ws.Allocate(p->bwd_filter_ws));
    const cudnnStatus_t st = cudnnConvolutionBackwardFilter(
        handle_, &alpha, p->x, a.x, p->y, a.dy, p->conv, p->bwd_filter, ws.get(),
        p->bwd_filter_ws, &beta, p->w, a.dw);
    if (CudnnNotSupported(st) && attempt == 0 &&
        p->bwd_filter != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1) {
      p->bwd_filter = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;  // see Forward
      EDBP_CUDNN_RETURN_IF_ERROR(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          handle_, p->x, p->y, p->conv, p->w, p->bwd_filter, &p->bwd_filter_ws));
      continue;
    }
    EDBP_RETURN_IF_ERROR(
        CudnnStatus(st, "cudnnConvolutionBackwardFilter(...)", __FILE__, __LINE__));
    return absl::OkStatus();
  }
}

}  // namespace edbp::kernels::cuda

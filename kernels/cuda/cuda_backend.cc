#include "kernels/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_allocator.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/launch.h"
#include "kernels/op_checks.h"

namespace edbp::kernels {

using cuda::ScopedDeviceBlock;

struct CudaBackend::Impl {
  explicit Impl(int index) : device(index), allocator(index) {}
  ~Impl() {
    // Teardown failures cannot be reported from a destructor and leave nothing to do.
    conv.reset();
    if (cudnn != nullptr) cudnnDestroy(cudnn);
    if (cublas != nullptr) cublasDestroy(cublas);
    if (stream != nullptr) cudaStreamDestroy(stream);
    if (bad_label != nullptr) cudaFree(bad_label);
  }

  // Makes this backend's device current for the calling thread (cheap when it already
  // is); every entry point calls it first.
  absl::Status Activate() const {
    EDBP_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
    return absl::OkStatus();
  }

  // Copies `count` doubles of device scratch to the host, waiting for the stream.
  absl::StatusOr<std::vector<double>> FetchDoubles(const void* src, size_t count) {
    std::vector<double> out(count);
    EDBP_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out.data(), src, count * sizeof(double),
                                              cudaMemcpyDeviceToHost, stream));
    EDBP_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    return out;
  }

  const int device;
  cuda::DeviceAllocator allocator;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  std::unique_ptr<cuda::Conv2dRunner> conv;
  int* bad_label = nullptr;  // device flag of LabelInject
};

namespace {

double SumInOrder(const std::vector<double>& v) {
  double sum = 0;
  for (const double x : v) sum += x;
  return sum;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create(int index) {
  auto impl = std::make_unique<Impl>(index);
  EDBP_RETURN_IF_ERROR(impl->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(
      cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  EDBP_CUBLAS_RETURN_IF_ERROR(cublasCreate(&impl->cublas));
  EDBP_CUBLAS_RETURN_IF_ERROR(cublasSetStream(impl->cublas, impl->stream));
  // §12: FP32 GEMMs (CUBLAS_DEFAULT_MATH has no TF32), within 1e-5 of the CPU.
  EDBP_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(impl->cublas, CUBLAS_DEFAULT_MATH));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnCreate(&impl->cudnn));
  EDBP_CUDNN_RETURN_IF_ERROR(cudnnSetStream(impl->cudnn, impl->stream));
  impl->conv = std::make_unique<cuda::Conv2dRunner>(impl->cudnn, &impl->allocator);
  EDBP_CUDA_RETURN_IF_ERROR(
      cudaMalloc(reinterpret_cast<void**>(&impl->bad_label), sizeof(int)));
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(impl)));
}

CudaBackend::CudaBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaBackend::~CudaBackend() = default;

Device CudaBackend::device() const { return Device{DeviceType::kCuda, impl_->device}; }

void* CudaBackend::raw_stream() const { return impl_->stream; }

bool CudaBackend::Supports(Op op) const { return op != Op::kNumOps; }

// ---- memory ---------------------------------------------------------------------------

absl::StatusOr<void*> CudaBackend::Allocate(size_t bytes) {
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  return impl_->allocator.Allocate(bytes);
}

void CudaBackend::Deallocate(void* ptr) { impl_->allocator.Deallocate(ptr); }

absl::Status CudaBackend::CopyHostToDevice(void* dst, const void* host_src,
                                           size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  // Pageable host memory: the call returns once the source has been staged, so the
  // caller may reuse host_src at once (CUDA runtime API, "API synchronization").
  EDBP_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::CopyDeviceToHost(void* host_dst, const void* src,
                                           size_t bytes) {
  if (bytes == 0) return absl::OkStatus();
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, impl_->stream));
  EDBP_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::CopyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return absl::OkStatus();
  const char* d = static_cast<const char*>(dst);
  const char* s = static_cast<const char*>(src);
  EDBP_CHECK(d + bytes <= s || s + bytes <= d) << "CopyDeviceToDevice: ranges overlap";
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::Synchronize() {
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(impl_->stream));
  return absl::OkStatus();
}

DeviceMemoryStats CudaBackend::MemoryStats() const { return impl_->allocator.stats(); }

void CudaBackend::ResetPeakMemory() { impl_->allocator.ResetPeak(); }

size_t CudaBackend::ReleaseCachedMemory() { return impl_->allocator.ReleaseCached(); }

// ---- elementwise
// ------------------------------------------------------------------------

absl::Status CudaBackend::Fill(const FillArgs& a) {
  EDBP_CHECK(a.n >= 0) << "Fill: n=" << a.n;
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchFill(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::Scale(const ScaleArgs& a) {
  EDBP_CHECK(a.n >= 0) << "Scale: n=" << a.n;
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchScale(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::Mul(const MulArgs& a) {
  EDBP_CHECK(a.n >= 0) << "Mul: n=" << a.n;
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchMul(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::Axpy(const AxpyArgs& a) {
  EDBP_CHECK(a.n >= 0) << "Axpy: n=" << a.n;
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchAxpy(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::DropoutApply(const DropoutApplyArgs& a) {
  EDBP_CHECK(a.steps >= 0 && a.rows >= 0 && a.inner >= 0)
      << "DropoutApply: steps=" << a.steps << " rows=" << a.rows << " inner=" << a.inner;
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchDropoutApply(a, impl_->stream));
  return absl::OkStatus();
}

// ---- reductions
// -------------------------------------------------------------------------

absl::Status CudaBackend::SumSquares(const SumSquaresArgs& a) {
  EDBP_CHECK(a.n >= 0) << "SumSquares: n=" << a.n;
  EDBP_CHECK(a.result != nullptr) << "SumSquares: null result";
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  const size_t blocks = static_cast<size_t>(cuda::ReductionBlocks(a.n));
  ScopedDeviceBlock partials(&impl_->allocator);
  EDBP_RETURN_IF_ERROR(partials.Allocate(blocks * sizeof(double)));
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchSumSquaresPartials(
      a.n, a.x, static_cast<double*>(partials.get()), impl_->stream));
  EDBP_ASSIGN_OR_RETURN(const std::vector<double> host,
                        impl_->FetchDoubles(partials.get(), blocks));
  *a.result = SumInOrder(host);
  return absl::OkStatus();
}

absl::Status CudaBackend::ReduceStats(const ReduceStatsArgs& a) {
  EDBP_CHECK(a.n >= 0 && a.result != nullptr);
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  const size_t blocks = static_cast<size_t>(cuda::ReductionBlocks(a.n));
  ScopedDeviceBlock partials(&impl_->allocator);
  EDBP_RETURN_IF_ERROR(partials.Allocate(3 * blocks * sizeof(double)));
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchReduceStatsPartials(
      a.n, a.x, static_cast<double*>(partials.get()), impl_->stream));
  EDBP_ASSIGN_OR_RETURN(const std::vector<double> host,
                        impl_->FetchDoubles(partials.get(), 3 * blocks));
  ReduceStatsResult total;
  for (size_t b = 0; b < blocks; ++b) {
    total.sum += host[3 * b];
    total.sum_sq += host[3 * b + 1];
    total.max_abs = std::max(total.max_abs, host[3 * b + 2]);
  }
  *a.result = total;
  return absl::OkStatus();
}

absl::Status CudaBackend::SpikeCount(const SpikeCountArgs& a) {
  EDBP_CHECK(a.rows >= 0 && a.neurons >= 0);
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchSpikeCount(a, impl_->stream));
  return absl::OkStatus();
}

// ---- libraries
// ----------------------------------------------------------------------------

absl::Status CudaBackend::Gemm(const GemmArgs& a) {
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  return cuda::CublasGemm(impl_->cublas, a);
}

absl::Status CudaBackend::Conv2dForward(const Conv2dForwardArgs& a) {
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  return impl_->conv->Forward(a);
}

absl::Status CudaBackend::Conv2dBackwardData(const Conv2dBackwardDataArgs& a) {
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  return impl_->conv->BackwardData(a);
}

absl::Status CudaBackend::Conv2dBackwardFilter(const Conv2dBackwardFilterArgs& a) {
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  return impl_->conv->BackwardFilter(a);
}

// ---- neuron, pooling, standardisation
// ------------------------------------------------------

absl::Status CudaBackend::NeuronForward(const NeuronForwardArgs& a) {
  CheckNeuronForwardArgs(a);
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchNeuronForward(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::NeuronBackward(const NeuronBackwardArgs& a) {
  CheckNeuronBackwardArgs(a);
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchNeuronBackward(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::Pool2dForward(const Pool2dForwardArgs& a) {
  CheckPool2dShape(a.shape, "Pool2dForward");
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchPool2dForward(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::Pool2dBackward(const Pool2dBackwardArgs& a) {
  CheckPool2dShape(a.shape, "Pool2dBackward");
  EDBP_CHECK(a.type != PoolType::kMax || a.x != nullptr) << "Pool2dBackward: max needs x";
  EDBP_CHECK(a.type != PoolType::kAdjustedAvg || a.y != nullptr)
      << "Pool2dBackward: adjusted_avg needs y";
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchPool2dBackward(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::WeightStdForward(const WeightStdForwardArgs& a) {
  EDBP_CHECK(a.c_out >= 1 && a.m >= 2) << "weight standardisation needs fan-in >= 2";
  EDBP_CHECK(a.c_out <= 0x7fffffff) << "WeightStdForward: too many channels";
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchWeightStdForward(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::WeightStdBackward(const WeightStdBackwardArgs& a) {
  EDBP_CHECK(a.c_out >= 1 && a.m >= 2);
  EDBP_CHECK(a.c_out <= 0x7fffffff) << "WeightStdBackward: too many channels";
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchWeightStdBackward(a, impl_->stream));
  return absl::OkStatus();
}

// ---- output layer and losses
// --------------------------------------------------------------

absl::Status CudaBackend::LabelInject(const LabelInjectArgs& a) {
  EDBP_CHECK(a.steps >= 1 && a.batch >= 0 && a.classes >= 1);
  if (a.batch == 0) return absl::OkStatus();
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(
      cudaMemsetAsync(impl_->bad_label, 0, sizeof(int), impl_->stream));
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchLabelInject(a, impl_->bad_label, impl_->stream));
  int bad = 0;
  EDBP_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(&bad, impl_->bad_label, sizeof(int),
                                            cudaMemcpyDeviceToHost, impl_->stream));
  EDBP_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(impl_->stream));
  if (bad != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "LabelInject: a label lies outside [0, ", a.classes, ") (ALGORITHM.md §5)"));
  }
  return absl::OkStatus();
}

absl::Status CudaBackend::CountLoss(const CountLossArgs& a) {
  CheckLossArgs("CountLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  if (a.batch == 0) {
    *a.loss = 0;
    return absl::OkStatus();
  }
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  ScopedDeviceBlock partials(&impl_->allocator);
  EDBP_RETURN_IF_ERROR(partials.Allocate(static_cast<size_t>(a.batch) * sizeof(double)));
  EDBP_CUDA_RETURN_IF_ERROR(
      cuda::LaunchCountLoss(a, static_cast<double*>(partials.get()), impl_->stream));
  EDBP_ASSIGN_OR_RETURN(
      const std::vector<double> host,
      impl_->FetchDoubles(partials.get(), static_cast<size_t>(a.batch)));
  *a.loss = SumInOrder(host);
  return absl::OkStatus();
}

absl::Status CudaBackend::KernelLoss(const KernelLossArgs& a) {
  CheckLossArgs("KernelLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  EDBP_CHECK(a.tau_s > 0) << "KernelLoss: tau_s=" << a.tau_s;
  if (a.batch == 0) {
    *a.loss = 0;
    return absl::OkStatus();
  }
  EDBP_CHECK(a.target != nullptr) << "KernelLoss: null target";
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  ScopedDeviceBlock partials(&impl_->allocator);
  EDBP_RETURN_IF_ERROR(partials.Allocate(static_cast<size_t>(a.batch) * sizeof(double)));
  EDBP_CUDA_RETURN_IF_ERROR(
      cuda::LaunchKernelLoss(a, static_cast<double*>(partials.get()), impl_->stream));
  EDBP_ASSIGN_OR_RETURN(
      const std::vector<double> host,
      impl_->FetchDoubles(partials.get(), static_cast<size_t>(a.batch)));
  *a.loss = SumInOrder(host);
  return absl::OkStatus();
}

absl::Status CudaBackend::TetLoss(const TetLossArgs& a) {
  CheckLossArgs("TetLoss", a.steps, a.batch, a.classes, a.o, a.labels, a.grad, a.loss);
  const int64_t rows = a.steps * a.batch;
  if (rows == 0) {
    *a.loss = 0;
    return absl::OkStatus();
  }
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  ScopedDeviceBlock partials(&impl_->allocator);
  EDBP_RETURN_IF_ERROR(partials.Allocate(static_cast<size_t>(rows) * sizeof(double)));
  EDBP_CUDA_RETURN_IF_ERROR(
      cuda::LaunchTetLoss(a, static_cast<double*>(partials.get()), impl_->stream));
  EDBP_ASSIGN_OR_RETURN(const std::vector<double> host,
                        impl_->FetchDoubles(partials.get(), static_cast<size_t>(rows)));
  *a.loss = SumInOrder(host) * (1.0 / static_cast<double>(rows));  // §8 mean over b, t
  return absl::OkStatus();
}

// ---- optimisers
// -------------------------------------------------------------------------------

absl::Status CudaBackend::SgdStep(const SgdStepArgs& a) {
  CheckSgdStepArgs(a);
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchSgdStep(a, impl_->stream));
  return absl::OkStatus();
}

absl::Status CudaBackend::AdamStep(const AdamStepArgs& a) {
  CheckAdamStepArgs(a);
  EDBP_RETURN_IF_ERROR(impl_->Activate());
  EDBP_CUDA_RETURN_IF_ERROR(cuda::LaunchAdamStep(a, impl_->stream));
  return absl::OkStatus();
}

bool PlantPendingCudaErrorForTesting() {
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, size_t{1} << 60) == cudaSuccess) {
    cudaFree(ptr);
    return false;
  }
  return cudaPeekAtLastError() != cudaSuccess;
}

}  // namespace edbp::kernels

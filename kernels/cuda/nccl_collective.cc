#include "kernels/cuda/nccl_collective.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_backend.h"

namespace edbp::kernels::cuda {
namespace {

static_assert(NCCL_UNIQUE_ID_BYTES == kCollectiveGroupIdBytes);

absl::Status NcclError(const char* call, ncclResult_t r) {
  if (r == ncclSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(call, " failed: ", ncclGetErrorString(r)));
}

absl::Status CudaError(const char* call, cudaError_t e) {
  if (e == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(call, " failed: ", cudaGetErrorString(e)));
}

class NcclCollective final : public DeviceCollective {
 public:
  NcclCollective(ncclComm_t comm, cudaStream_t stream, int device)
      : comm_(comm), stream_(stream), device_(device) {}
  ~NcclCollective() override { ncclCommDestroy(comm_); }
  NcclCollective(const NcclCollective&) = delete;
  NcclCollective& operator=(const NcclCollective&) = delete;

  absl::Status AllReduceSum(float* data, int64_t n) override {
    if (absl::Status s = CudaError("cudaSetDevice", cudaSetDevice(device_)); !s.ok()) {
      return s;
    }
    if (absl::Status s =
            NcclError("ncclAllReduce", ncclAllReduce(data, data, static_cast<size_t>(n),
                                                     ncclFloat, ncclSum, comm_, stream_));
        !s.ok()) {
      return s;
    }
    return CudaError("cudaStreamSynchronize", cudaStreamSynchronize(stream_));
  }

 private:
  ncclComm_t comm_;
  cudaStream_t stream_;
  int device_;
};

}  // namespace

absl::StatusOr<std::string> NcclNewGroupId() {
  ncclUniqueId id;
  if (absl::Status s = NcclError("ncclGetUniqueId", ncclGetUniqueId(&id)); !s.ok()) {
    return s;
  }
  return std::string(id.internal, NCCL_UNIQUE_ID_BYTES);
}

absl::StatusOr<std::unique_ptr<DeviceCollective>> NcclJoinGroup(const std::string& id,
                                                                int ranks, int rank,
                                                                Backend* backend) {
  if (id.size() != NCCL_UNIQUE_ID_BYTES) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NCCL group id: expected ", NCCL_UNIQUE_ID_BYTES, " bytes, got ", id.size()));
  }
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    return absl::InvalidArgumentError(
        absl::StrCat("NCCL group: rank ", rank, " of ", ranks, " does not exist"));
  }
  auto* cuda = dynamic_cast<CudaBackend*>(backend);
  if (cuda == nullptr) {
    return absl::InvalidArgumentError("NCCL group: the backend is not a CUDA backend");
  }
  const int device = cuda->device().index;
  if (absl::Status s = CudaError("cudaSetDevice", cudaSetDevice(device)); !s.ok()) {
    return s;
  }
  ncclUniqueId unique;
  std::memcpy(unique.internal, id.data(), NCCL_UNIQUE_ID_BYTES);
  ncclComm_t comm = nullptr;
  if (absl::Status s =
          NcclError("ncclCommInitRank", ncclCommInitRank(&comm, ranks, unique, rank));
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<DeviceCollective>(std::make_unique<NcclCollective>(
      comm, static_cast<cudaStream_t>(cuda->raw_stream()), device));
}

}  // namespace edbp::kernels::cuda

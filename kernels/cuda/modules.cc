// The entry points of the two CUDA modules (kernels/cuda_modules.h). Each module is
// built from this file with one of EDBP_CUDA_QUERY_MODULE / EDBP_CUDA_BACKEND_MODULE
// defined; only the entry points are exported (the rest is hidden, static libraries
// included), so the module's copy of edbp code never binds to the executable's.
#include "kernels/cuda_modules.h"

#if defined(EDBP_CUDA_QUERY_MODULE)
#include "kernels/cuda/device_query.h"

extern "C" __attribute__((visibility("default"))) int edbp_cuda_device_count() {
  return edbp::kernels::cuda::DeviceCount();
}

#elif defined(EDBP_CUDA_BACKEND_MODULE)
#include <memory>

#include "kernels/cuda/cuda_backend.h"
#if defined(EDBP_WITH_NCCL)
#include "kernels/cuda/nccl_collective.h"
#endif

namespace {

absl::StatusOr<edbp::kernels::Backend*> CreateBackend(int index) {
  absl::StatusOr<std::unique_ptr<edbp::kernels::CudaBackend> > created =
      edbp::kernels::CudaBackend::Create(index);
  if (!created.ok()) return created.status();
  return created->release();
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const edbp::kernels::CudaModuleV1*
edbp_cuda_backend_v1() {
#if defined(EDBP_WITH_NCCL)
  static const edbp::kernels::CudaModuleV1 module{
      .create_backend = &CreateBackend,
      .nccl_group_id = &edbp::kernels::cuda::NcclNewGroupId,
      .nccl_join = &edbp::kernels::cuda::NcclJoinGroup};
#else
  static const edbp::kernels::CudaModuleV1 module{.create_backend = &CreateBackend};
#endif
  return &module;
}

#else
#error \
    "build kernels/cuda/modules.cc with EDBP_CUDA_QUERY_MODULE or EDBP_CUDA_BACKEND_MODULE"
#endif

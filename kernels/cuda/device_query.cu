#include <cuda_runtime.h>

#include "kernels/cuda/device_query.h"

namespace edbp::kernels::cuda {

int DeviceCount() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error for later calls
    return 0;
  }
  return count;
}

}  // namespace edbp::kernels::cuda

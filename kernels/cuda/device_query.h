// Device discovery through the CUDA runtime. Plain C++ header: callers outside
// kernels/cuda/ include this, never CUDA headers.
#ifndef EDBP_KERNELS_CUDA_DEVICE_QUERY_H_
#define EDBP_KERNELS_CUDA_DEVICE_QUERY_H_

namespace edbp::kernels::cuda {

// Number of visible CUDA devices; 0 when the driver is missing or too old
// (cudaErrorInsufficientDriver / cudaErrorNoDevice leave the count untouched, so it
// starts at 0).
int DeviceCount();

}  // namespace edbp::kernels::cuda

#endif  // EDBP_KERNELS_CUDA_DEVICE_QUERY_H_

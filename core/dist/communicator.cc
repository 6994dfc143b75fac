#include "core/dist/communicator.h"

#include <cstdlib>
#include <vector>

#include "base/check.h"

namespace edbp::dist {

absl::Status Communicator::AllReduceSumOnDevice(kernels::Backend* backend, float* data,
                                                int64_t n) {
  if (backend->device().type == kernels::DeviceType::kCpu) return AllReduceSum(data, n);
  std::vector<float> host(static_cast<size_t>(n));
  const size_t bytes = host.size() * sizeof(float);
  EDBP_RETURN_IF_ERROR(backend->CopyDeviceToHost(host.data(), data, bytes));
  EDBP_RETURN_IF_ERROR(AllReduceSum(host.data(), n));
  return backend->CopyHostToDevice(data, host.data(), bytes);
}

void LocalCommunicator::Abort(int code) { std::exit(code); }

}  // namespace edbp::dist

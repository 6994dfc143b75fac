#include "kernels/backend.h"

#include "absl/strings/str_cat.h"

namespace edbp::kernels {

std::string Device::ToString() const {
  return type == DeviceType::kCpu ? std::string("cpu") : absl::StrCat("cuda:", index);
}

}  // namespace edbp::kernels

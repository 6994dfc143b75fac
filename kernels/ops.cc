#include "kernels/ops.h"

namespace edbp::kernels {

const char* OpName(Op op) {
  switch (op) {
#define EDBP_OP_NAME_CASE(Name) \
  case Op::k##Name:             \
    return #Name;
    EDBP_KERNEL_OPS(EDBP_OP_NAME_CASE)
#undef EDBP_OP_NAME_CASE
    case Op::kNumOps:
      break;
  }
  return "?";
}

}  // namespace edbp::kernels

#include "kernels/ops.h"

namespace edbp::kernels {

const char* OpName(Op op) {
  switch (op) {
    case Op::kFill:
      return "Fill";
    case Op::kScale:
      return "Scale";
    case Op::kMul:
      return "Mul";
    case Op::kAxpy:
      return "Axpy";
    case Op::kSumSquares:
      return "SumSquares";
    case Op::kReduceStats:
      return "ReduceStats";
    case Op::kSpikeCount:
      return "SpikeCount";
    case Op::kGemm:
      return "Gemm";
    case Op::kNeuronForward:
      return "NeuronForward";
    case Op::kNeuronBackward:
      return "NeuronBackward";
    case Op::kConv2dForward:
      return "Conv2dForward";
    case Op::kConv2dBackwardData:
      return "Conv2dBackwardData";
    case Op::kConv2dBackwardFilter:
      return "Conv2dBackwardFilter";
    case Op::kPool2dForward:
      return "Pool2dForward";
    case Op::kPool2dBackward:
      return "Pool2dBackward";
    case Op::kWeightStdForward:
      return "WeightStdForward";
    case Op::kWeightStdBackward:
      return "WeightStdBackward";
    case Op::kDropoutApply:
      return "DropoutApply";
    case Op::kLabelInject:
      return "LabelInject";
    case Op::kCountLoss:
      return "CountLoss";
    case Op::kKernelLoss:
      return "KernelLoss";
    case Op::kTetLoss:
      return "TetLoss";
    case Op::kSgdStep:
      return "SgdStep";
    case Op::kAdamStep:
      return "AdamStep";
    case Op::kNumOps:
      break;
  }
  return "?";
}

}  // namespace edbp::kernels

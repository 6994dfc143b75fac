#include "core/config/enum_names.h"

namespace edbp::config::internal {
namespace {

constexpr EnumName<LayerType> kLayerTypes[] = {
    {"conv", LayerType::kConv},         {"linear", LayerType::kLinear},
    {"pooling", LayerType::kPooling},   {"dropout", LayerType::kDropout},
    {"residual", LayerType::kResidual},
};
constexpr EnumName<PoolingType> kPoolingTypes[] = {
    {"avg", PoolingType::kAvg},
    {"max", PoolingType::kMax},
    {"adjusted_avg", PoolingType::kAdjustedAvg},
};
constexpr EnumName<LossType> kLossTypes[] = {
    {"count", LossType::kCount},
    {"kernel", LossType::kKernel},
    {"TET", LossType::kTet},
};
constexpr EnumName<OptimizerType> kOptimizerTypes[] = {
    {"SGD", OptimizerType::kSgd},
    {"Adam", OptimizerType::kAdam},
    {"AdamW", OptimizerType::kAdamW},
};
constexpr EnumName<ForwardType> kForwardTypes[] = {
    {"leaky", ForwardType::kLeaky},
    {"nonleaky", ForwardType::kNonleaky},
};
constexpr EnumName<GradientType> kGradientTypes[] = {
    {"original", GradientType::kOriginal},
    {"exponential", GradientType::kExponential},
};
constexpr EnumName<BackendChoice> kBackendChoices[] = {
    {"auto", BackendChoice::kAuto},
    {"cpu", BackendChoice::kCpu},
    {"cuda", BackendChoice::kCuda},
    {"python", BackendChoice::kCpu},  // the reference's name for its CPU-side code
};
constexpr EnumName<Encoding> kEncodings[] = {
    {"None", Encoding::kNone},
    {"TTFS", Encoding::kTtfs},
};
constexpr EnumName<WeightNormBackward> kWeightNormBackwards[] = {
    {"reference", WeightNormBackward::kReference},
    {"exact", WeightNormBackward::kExact},
};

}  // namespace

std::span<const EnumName<LayerType>> LayerTypeNames() { return kLayerTypes; }
std::span<const EnumName<PoolingType>> PoolingTypeNames() { return kPoolingTypes; }
std::span<const EnumName<LossType>> LossTypeNames() { return kLossTypes; }
std::span<const EnumName<OptimizerType>> OptimizerTypeNames() { return kOptimizerTypes; }
std::span<const EnumName<ForwardType>> ForwardTypeNames() { return kForwardTypes; }
std::span<const EnumName<GradientType>> GradientTypeNames() { return kGradientTypes; }
std::span<const EnumName<BackendChoice>> BackendChoiceNames() { return kBackendChoices; }
std::span<const EnumName<Encoding>> EncodingNames() { return kEncodings; }
std::span<const EnumName<WeightNormBackward>> WeightNormBackwardNames() {
  return kWeightNormBackwards;
}

std::span<const DatasetInfo> Datasets() {
  // Per-sample shapes as the reference's loaders deliver them.
  static const auto* const kDatasets = new std::vector<DatasetInfo>{
      {"MNIST", {1, 28, 28}, false},
      {"FashionMNIST", {1, 28, 28}, false},
      {"CIFAR10", {3, 32, 32}, false},
      {"CIFAR100", {3, 32, 32}, false},
      {"NMNIST", {2, 34, 34}, true},
      {"DVS128Gesture", {2, 128, 128}, true, 0, true},  // the sensor's full frames
      {"CIFAR10DVS", {2, 48, 48}, true},  // its 128x128 frames resized (§11.1)
      {"SMNIST", {1, 28, 1}, false, 28},  // per step: one column of an MNIST image
      {"Synthetic", {}, false},           // edbp's own: shape from Network.input_shape
  };
  return *kDatasets;
}

const DatasetInfo* FindDataset(absl::string_view name) {
  for (const DatasetInfo& info : Datasets()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

}  // namespace edbp::config::internal

// The class names of the data sets that have them (issue 19: the dashboard's confusion
// matrix labels its rows and columns with them), by the config's Network.dataset.
#ifndef EDBP_BASE_CLASS_NAMES_H_
#define EDBP_BASE_CLASS_NAMES_H_

#include <span>
#include <string_view>

namespace edbp {

// Label i's name for FashionMNIST, CIFAR10, CIFAR10DVS (CIFAR-10's classes) and
// DVS128Gesture (its 11 gestures, label 0 = class 1 of the recordings); empty for the
// others (MNIST-like digits are their own names; CIFAR100 and Synthetic have none).
inline std::span<const std::string_view> ClassNames(std::string_view dataset) {
  static constexpr std::string_view kFashion[] = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  static constexpr std::string_view kCifar10[] = {
      "airplane", "automobile", "bird",  "cat",  "deer",
      "dog",      "frog",       "horse", "ship", "truck"};
  static constexpr std::string_view kGesture[] = {"hand clap",
                                                  "right hand wave",
                                                  "left hand wave",
                                                  "right arm clockwise",
                                                  "right arm counter-clockwise",
                                                  "left arm clockwise",
                                                  "left arm counter-clockwise",
                                                  "arm roll",
                                                  "air drums",
                                                  "air guitar",
                                                  "other gestures"};
  if (dataset == "FashionMNIST") return kFashion;
  if (dataset == "CIFAR10" || dataset == "CIFAR10DVS") return kCifar10;
  if (dataset == "DVS128Gesture") return kGesture;
  return {};
}

}  // namespace edbp

#endif  // EDBP_BASE_CLASS_NAMES_H_

// Tensor: a shape and a buffer in some backend's memory. No math: ops live in
// kernels/ and are called through the tensor's Backend.
//
// Copies of a Tensor share the buffer (like a shared_ptr); Reshaped() views the same
// buffer with another shape. The buffer is freed through its backend when the last
// Tensor referring to it goes away. Not thread-safe for concurrent mutation.
#ifndef EDBP_CORE_TENSOR_H_
#define EDBP_CORE_TENSOR_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace edbp {

using Shape = std::vector<int64_t>;

enum class DType {
  kF32,  // float32: activations, spikes, weights, gradients
  kI32,  // int32: labels
};

int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[5,50,1,28,28]"

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false

  // Uninitialised storage of `shape` on `backend`. Errors: RESOURCE_EXHAUSTED.
  static absl::StatusOr<Tensor> Empty(kernels::Backend* backend, Shape shape,
                                      DType dtype = DType::kF32);
  // Float32 zeros.
  static absl::StatusOr<Tensor> Zeros(kernels::Backend* backend, Shape shape);
  // Copies host values; values.size() must equal NumElements(shape).
  static absl::StatusOr<Tensor> FromHost(kernels::Backend* backend, Shape shape,
                                         std::span<const float> values);
  static absl::StatusOr<Tensor> FromHostI32(kernels::Backend* backend, Shape shape,
                                            std::span<const int32_t> values);

  bool defined() const { return storage_ != nullptr; }
  // No other Tensor shares the buffer: it can be overwritten without anyone seeing it.
  bool sole_owner() const { return storage_ != nullptr && storage_.use_count() == 1; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return NumElements(shape_); }
  DType dtype() const { return dtype_; }
  size_t bytes() const;
  kernels::Backend* backend() const;

  // Typed pointers into backend memory; CHECK the dtype.
  float* f32() const;
  int32_t* i32() const;

  // A view of the same buffer; CHECKs that the element count matches.
  Tensor Reshaped(Shape shape) const;
  // A view of the first NumElements(shape) elements (e.g. step 0 of a [T, ...] tensor);
  // CHECKs that there are that many.
  Tensor Leading(Shape shape) const;

  // A new buffer with the same contents.
  absl::StatusOr<Tensor> Clone() const;
  // Copies `other`'s contents into this tensor (same numel and dtype, CHECKed).
  absl::Status CopyFrom(const Tensor& other);

  absl::StatusOr<std::vector<float>> ToHost() const;
  absl::StatusOr<std::vector<int32_t>> ToHostI32() const;

 private:
  struct Storage;
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::kF32;
};

}  // namespace edbp

#endif  // EDBP_CORE_TENSOR_H_

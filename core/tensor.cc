#include "core/tensor.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/check.h"

namespace edbp {

struct Tensor::Storage {
  Storage(kernels::Backend* b, void* p, size_t n) : backend(b), ptr(p), bytes(n) {}
  ~Storage() { backend->Deallocate(ptr); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  kernels::Backend* backend;
  void* ptr;
  size_t bytes;
};

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

absl::StatusOr<Tensor> Tensor::Empty(kernels::Backend* backend, Shape shape,
                                     DType dtype) {
  EDBP_CHECK(backend != nullptr);
  for (int64_t d : shape) EDBP_CHECK(d >= 0) << ShapeToString(shape);
  const size_t bytes = static_cast<size_t>(NumElements(shape)) * 4;
  EDBP_ASSIGN_OR_RETURN(void* ptr, backend->Allocate(bytes));
  Tensor t;
  t.storage_ = std::make_shared<Storage>(backend, ptr, bytes);
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  return t;
}

absl::StatusOr<Tensor> Tensor::Zeros(kernels::Backend* backend, Shape shape) {
  EDBP_ASSIGN_OR_RETURN(Tensor t, Empty(backend, std::move(shape)));
  EDBP_RETURN_IF_ERROR(backend->Fill({.n = t.numel(), .value = 0.0f, .out = t.f32()}));
  return t;
}

absl::StatusOr<Tensor> Tensor::FromHost(kernels::Backend* backend, Shape shape,
                                        std::span<const float> values) {
  EDBP_CHECK(static_cast<int64_t>(values.size()) == NumElements(shape))
      << values.size() << " values for " << ShapeToString(shape);
  EDBP_ASSIGN_OR_RETURN(Tensor t, Empty(backend, std::move(shape)));
  EDBP_RETURN_IF_ERROR(backend->CopyHostToDevice(t.f32(), values.data(), t.bytes()));
  return t;
}

absl::StatusOr<Tensor> Tensor::FromHostI32(kernels::Backend* backend, Shape shape,
                                           std::span<const int32_t> values) {
  EDBP_CHECK(static_cast<int64_t>(values.size()) == NumElements(shape))
      << values.size() << " values for " << ShapeToString(shape);
  EDBP_ASSIGN_OR_RETURN(Tensor t, Empty(backend, std::move(shape), DType::kI32));
  EDBP_RETURN_IF_ERROR(backend->CopyHostToDevice(t.i32(), values.data(), t.bytes()));
  return t;
}

int64_t Tensor::dim(int i) const {
  if (i < 0) i += rank();
  EDBP_CHECK(i >= 0 && i < rank()) << "dim " << i << " of " << ShapeToString(shape_);
  return shape_[i];
}

size_t Tensor::bytes() const { return static_cast<size_t>(numel()) * 4; }

kernels::Backend* Tensor::backend() const {
  EDBP_CHECK(defined());
  return storage_->backend;
}

float* Tensor::f32() const {
  EDBP_CHECK(defined() && dtype_ == DType::kF32);
  return static_cast<float*>(storage_->ptr);
}

int32_t* Tensor::i32() const {
  EDBP_CHECK(defined() && dtype_ == DType::kI32);
  return static_cast<int32_t*>(storage_->ptr);
}

Tensor Tensor::Reshaped(Shape shape) const {
  EDBP_CHECK(NumElements(shape) == numel())
      << ShapeToString(shape_) << " -> " << ShapeToString(shape);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Leading(Shape shape) const {
  EDBP_CHECK(NumElements(shape) <= numel())
      << ShapeToString(shape_) << " has no leading " << ShapeToString(shape);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

absl::StatusOr<Tensor> Tensor::Clone() const {
  EDBP_ASSIGN_OR_RETURN(Tensor t, Empty(backend(), shape_, dtype_));
  EDBP_RETURN_IF_ERROR(t.CopyFrom(*this));
  return t;
}

absl::Status Tensor::CopyFrom(const Tensor& other) {
  EDBP_CHECK(other.numel() == numel() && other.dtype_ == dtype_)
      << ShapeToString(other.shape_) << " into " << ShapeToString(shape_);
  EDBP_CHECK(other.backend() == backend());
  return backend()->CopyDeviceToDevice(storage_->ptr, other.storage_->ptr, bytes());
}

absl::StatusOr<std::vector<float>> Tensor::ToHost() const {
  std::vector<float> out(numel());
  EDBP_RETURN_IF_ERROR(backend()->CopyDeviceToHost(out.data(), f32(), bytes()));
  return out;
}

absl::StatusOr<std::vector<int32_t>> Tensor::ToHostI32() const {
  std::vector<int32_t> out(numel());
  EDBP_RETURN_IF_ERROR(backend()->CopyDeviceToHost(out.data(), i32(), bytes()));
  return out;
}

}  // namespace edbp

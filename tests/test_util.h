// Helpers shared by the tests of core/: the CPU backend and host <-> tensor copies.
#ifndef EDBP_TESTS_TEST_UTIL_H_
#define EDBP_TESTS_TEST_UTIL_H_

#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"
#include "kernels/registry.h"

namespace edbp::testing {

inline kernels::Backend* Cpu() {
  auto backend = kernels::GetBackend({kernels::DeviceType::kCpu, 0});
  EXPECT_TRUE(backend.ok()) << backend.status();
  return *backend;
}

inline Tensor MakeTensor(Shape shape, const std::vector<float>& values) {
  auto t = Tensor::FromHost(Cpu(), std::move(shape), values);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

inline Tensor MakeLabels(const std::vector<int32_t>& values) {
  auto t = Tensor::FromHostI32(Cpu(), {static_cast<int64_t>(values.size())}, values);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

inline std::vector<float> Host(const Tensor& t) {
  auto v = t.ToHost();
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

}  // namespace edbp::testing

#endif  // EDBP_TESTS_TEST_UTIL_H_

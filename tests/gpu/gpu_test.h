// Helpers of the `gpu` tests: the two backends, buffers on a backend, random data and
// comparisons. Every test in tests/gpu/ runs an op or a training step on the CPU
// backend (the reference) and on the CUDA backend and compares.
//
// Without a usable CUDA device the test binaries print why and exit with kSkipCode
// before any test runs (gpu_test_main.cc); ctest reports them as skipped.
#ifndef EDBP_TESTS_GPU_GPU_TEST_H_
#define EDBP_TESTS_GPU_GPU_TEST_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"

namespace edbp::gpu_test {

// ctest's SKIP_RETURN_CODE of every gpu test.
constexpr int kSkipCode = 77;

// Set by gpu_test_main.cc before the tests run; never null inside a test.
kernels::Backend* Cpu();
kernels::Backend* Cuda();

// `n` elements of T on `backend`, freed with it.
template <typename T>
class Buffer {
 public:
  Buffer(kernels::Backend* backend, size_t n) : backend_(backend), n_(n) {
    absl::StatusOr<void*> p = backend->Allocate(n * sizeof(T));
    EXPECT_TRUE(p.ok()) << p.status();
    ptr_ = p.ok() ? static_cast<T*>(*p) : nullptr;
  }
  Buffer(kernels::Backend* backend, const std::vector<T>& host)
      : Buffer(backend, host.size()) {
    Upload(host);
  }
  ~Buffer() { backend_->Deallocate(ptr_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  T* get() const { return ptr_; }
  void Upload(const std::vector<T>& host) {
    EXPECT_EQ(host.size(), n_);
    const absl::Status s = backend_->CopyHostToDevice(ptr_, host.data(), n_ * sizeof(T));
    EXPECT_TRUE(s.ok()) << s;
  }
  std::vector<T> Download() const {
    std::vector<T> host(n_);
    const absl::Status s = backend_->CopyDeviceToHost(host.data(), ptr_, n_ * sizeof(T));
    EXPECT_TRUE(s.ok()) << s;
    return host;
  }

 private:
  kernels::Backend* backend_;
  size_t n_;
  T* ptr_ = nullptr;
};

// The same host data on both backends.
template <typename T>
struct Pair {
  explicit Pair(const std::vector<T>& host) : cpu(Cpu(), host), cuda(Cuda(), host) {}
  explicit Pair(size_t n) : cpu(Cpu(), n), cuda(Cuda(), n) {}
  Buffer<T> cpu;
  Buffer<T> cuda;
};

inline std::vector<float> Uniform(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline int64_t Int(std::mt19937& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// Bitwise equality (0.0f and -0.0f differ; NaNs compare by bits).
inline void ExpectIdentical(const std::vector<float>& cpu, const std::vector<float>& cuda,
                            const std::string& what) {
  ASSERT_EQ(cpu.size(), cuda.size()) << what;
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < cpu.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &cpu[i], 4);
    std::memcpy(&b, &cuda[i], 4);
    if (a != b) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << cpu.size()
                    << " values differ; first at " << first << ": cpu "
                    << (first >= 0 ? cpu[first] : 0.0f) << " cuda "
                    << (first >= 0 ? cuda[first] : 0.0f);
}

// |cpu - cuda| <= rel · max|cpu| elementwise (relative to the tensor's scale, as
// ALGORITHM.md §12: summation order differs between the backends).
inline void ExpectClose(const std::vector<float>& cpu, const std::vector<float>& cuda,
                        double rel, const std::string& what) {
  ASSERT_EQ(cpu.size(), cuda.size()) << what;
  double scale = 0;
  for (float v : cpu) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  const double tol = rel * std::max(scale, 1e-30);
  int64_t bad = 0, worst = -1;
  double worst_err = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double err = std::fabs(static_cast<double>(cpu[i]) - cuda[i]);
    if (!(err <= tol)) {  // NaN counts as bad
      ++bad;
      if (!(err <= worst_err)) {
        worst_err = err;
        worst = static_cast<int64_t>(i);
      }
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << cpu.size()
                    << " values off by more than " << tol << " (scale " << scale
                    << "); worst at " << worst << ": cpu "
                    << (worst >= 0 ? cpu[worst] : 0.0f) << " cuda "
                    << (worst >= 0 ? cuda[worst] : 0.0f);
}

}  // namespace edbp::gpu_test

#endif  // EDBP_TESTS_GPU_GPU_TEST_H_

// Test helpers for code that runs under the CUDA launch emulation: device arrays (RAII over
// cudaMalloc/cudaFree) filled from and read back to host vectors, a fixture holding a cuBLAS
// handle, random inputs and the rounding bound the kernel tests compare with, and which sanitizer
// is on.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <vector>

#include "kernels/cuda/emu/cublas.h"
#include "kernels/cuda/runtime.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PB_TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define PB_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PB_TEST_ASAN)
#define PB_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(PB_TEST_TSAN)
#define PB_TEST_TSAN 1
#endif

namespace parbench::test {

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t count) : count_(count) {
    EXPECT_EQ(cuda_emu::cudaMalloc(&data_, count * sizeof(T)), cuda_emu::cudaSuccess);
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): the delegated-to constructor does
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cuda_emu::cudaFree(data_); }

  void upload(const std::vector<T>& host) {
    EXPECT_EQ(host.size(), count_);
    EXPECT_EQ(cuda_emu::cudaMemcpy(data_, host.data(), count_ * sizeof(T), cuda_emu::cudaMemcpyHostToDevice),
              cuda_emu::cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    EXPECT_EQ(cuda_emu::cudaMemcpy(host.data(), data_, count_ * sizeof(T), cuda_emu::cudaMemcpyDeviceToHost),
              cuda_emu::cudaSuccess);
    return host;
  }
  T* get() { return data_; }
  std::size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

// 2^-23: one rounding of the GPU and one of the CPU together (2^-24 each), relative to magnitude.
inline constexpr double kUlp = 1.1920928955078125e-07;

// A float expression of n operations (a sum of n terms is the special case) is within n 2^-24 of
// its exact value relative to the expression evaluated on absolute values (Higham's first-order
// bound: any order, with or without fma); the GPU and the CPU each are, so they differ by at most
// n 2^-23 times that magnitude.
inline double reduction_error(std::size_t n, double magnitude) { return static_cast<double>(n) * kUlp * magnitude; }

// n values uniform in [-bound, bound], the same for the same seed.
inline std::vector<float> random_vector(std::size_t n, double bound, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(static_cast<float>(-bound), static_cast<float>(bound));
  std::vector<float> x(n);
  for (auto& value : x) value = uniform(generator);
  return x;
}

// A test with an emulated cuBLAS handle on the default stream, for the ops that take one.
class CublasTest : public testing::Test {
 public:
  CublasTest() {
    EXPECT_EQ(cuda_emu::cublasCreate(&blas), cuda_emu::CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cuda_emu::cublasSetStream(blas, nullptr), cuda_emu::CUBLAS_STATUS_SUCCESS);
  }
  ~CublasTest() override { cuda_emu::cublasDestroy(blas); }
  CublasTest(const CublasTest&) = delete;
  CublasTest& operator=(const CublasTest&) = delete;

 protected:
  cuda_emu::cublasHandle_t blas = nullptr;
};

}  // namespace parbench::test

// Test helpers for code that runs under the CUDA launch emulation: device arrays (RAII over
// cudaMalloc/cudaFree) filled from and read back to host vectors, and which sanitizer is on.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

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

}  // namespace parbench::test

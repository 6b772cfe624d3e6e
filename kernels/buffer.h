// RAII for backend memory: a Buffer frees what its backend allocated, on every path. Models and
// strategies hold Buffers, never raw new/malloc for tensors (design.md §3).
#pragma once

#include <cstddef>
#include <utility>

#include "kernels/backend.h"

namespace parbench::kernels {

class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, std::size_t count)
      : backend_(&backend), data_(count ? backend.alloc(count) : nullptr), count_(count) {}
  Buffer(Buffer&& other) noexcept
      : backend_(other.backend_), data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release();
      backend_ = other.backend_;
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(float); }

 private:
  void release() {
    if (data_) backend_->free(data_);
    data_ = nullptr;
  }
  Backend* backend_ = nullptr;
  float* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace parbench::kernels

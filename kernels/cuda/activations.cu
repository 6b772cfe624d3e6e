// ReLU, tanh and sigmoid forward and backward on the GPU; the per-element math is kernels/math.h's,
// shared with the CPU backend (kernels/cpu/ops.cpp), so both compute the same function.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// y = x < 0 ? 0 : x, so that NaN propagates as torch.relu (and the CPU backend's std::max) do.
__global__ void relu_forward_kernel(float* y /* (n) */, const float* x /* (n), may be y */, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) {
    const float v = x[i];
    y[i] = v < 0.0f ? 0.0f : v;
  }
}
__global__ void relu_backward_kernel(float* __restrict__ dx /* (n) */, const float* __restrict__ dy /* (n) */,
                                     const float* __restrict__ y /* (n) */, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void tanh_forward_kernel(float* y /* (n) */, const float* x /* (n), may be y */, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) y[i] = tanh_approx(x[i]);
}
__global__ void tanh_backward_kernel(float* __restrict__ dx /* (n) */, const float* __restrict__ dy /* (n) */,
                                     const float* __restrict__ y /* (n) */, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

__global__ void sigmoid_forward_kernel(float* y /* (n) */, const float* x /* (n), may be y */, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) y[i] = sigmoidf(x[i]);
}
__global__ void sigmoid_backward_kernel(float* __restrict__ dx /* (n) */, const float* __restrict__ dy /* (n) */,
                                        const float* __restrict__ y /* (n) */, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

}  // namespace

#define PB_ELEMENTWISE(kernel, ...)                                                        \
  do {                                                                                     \
    if (n == 0) return;                                                                    \
    PB_LAUNCH(kernel, elementwise_blocks(n), kElementwiseThreads, 0, stream, __VA_ARGS__); \
  } while (0)

void relu_forward(float* y, const float* x, std::size_t n, cudaStream_t stream) {
  PB_ELEMENTWISE(relu_forward_kernel, y, x, n);
}
void relu_backward(float* dx, const float* dy, const float* y, std::size_t n, cudaStream_t stream) {
  PB_ELEMENTWISE(relu_backward_kernel, dx, dy, y, n);
}
void tanh_forward(float* y, const float* x, std::size_t n, cudaStream_t stream) {
  PB_ELEMENTWISE(tanh_forward_kernel, y, x, n);
}
void tanh_backward(float* dx, const float* dy, const float* y, std::size_t n, cudaStream_t stream) {
  PB_ELEMENTWISE(tanh_backward_kernel, dx, dy, y, n);
}
void sigmoid_forward(float* y, const float* x, std::size_t n, cudaStream_t stream) {
  PB_ELEMENTWISE(sigmoid_forward_kernel, y, x, n);
}
void sigmoid_backward(float* dx, const float* dy, const float* y, std::size_t n, cudaStream_t stream) {
  PB_ELEMENTWISE(sigmoid_backward_kernel, dx, dy, y, n);
}

#undef PB_ELEMENTWISE

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

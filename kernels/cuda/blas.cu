// BLAS-like ops of the CUDA backend (fill, scale, axpy, bias add and its backward); the CPU
// backend computes the same in kernels/cpu/ops.cpp.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

__global__ void fill_kernel(float* __restrict__ x /* (n) */, float value, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) x[i] = value;
}

__global__ void scale_kernel(float* __restrict__ x /* (n) */, float alpha, std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) x[i] *= alpha;
}

__global__ void axpy_kernel(float* __restrict__ y /* (n) */, float alpha, const float* __restrict__ x /* (n) */,
                            std::size_t n) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) y[i] += alpha * x[i];
}

__global__ void add_bias_kernel(float* __restrict__ y /* (m, n) */, const float* __restrict__ bias /* (n) */,
                                std::size_t total /* m * n */, int n) {
  for (std::size_t i = global_thread(); i < total; i += grid_threads()) y[i] += bias[i % static_cast<std::size_t>(n)];
}

// Column sums: a block covers kBiasColumns consecutive columns with one warp across them, so each
// row segment is one coalesced 128-byte load; kBiasRowLanes warps take every kBiasRowLanes-th row,
// and their partial sums meet in shared memory. Sums in double, in a fixed order, as the CPU does.
constexpr int kBiasColumns = 32;
constexpr int kBiasRowLanes = 8;  // 8 warps, 256 threads per block

__global__ void bias_backward_kernel(float* __restrict__ dbias /* (n) */, const float* __restrict__ dy /* (m, n) */,
                                     int m, int n) {
  __shared__ double partial[kBiasRowLanes][kBiasColumns];
  const int column = static_cast<int>(blockIdx.x) * kBiasColumns + static_cast<int>(threadIdx.x);
  double sum = 0.0;
  if (column < n)
    for (int row = static_cast<int>(threadIdx.y); row < m; row += kBiasRowLanes)
      sum += dy[static_cast<std::size_t>(row) * static_cast<std::size_t>(n) + static_cast<std::size_t>(column)];
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < n) {
    double total = 0.0;
    for (int lane = 0; lane < kBiasRowLanes; ++lane) total += partial[lane][threadIdx.x];
    dbias[column] += static_cast<float>(total);
  }
}

}  // namespace

void fill(float* x, float value, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  PB_LAUNCH(fill_kernel, elementwise_blocks(n), kElementwiseThreads, 0, stream, x, value, n);
}

void scale(float* x, float alpha, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  PB_LAUNCH(scale_kernel, elementwise_blocks(n), kElementwiseThreads, 0, stream, x, alpha, n);
}

void axpy(float* y, float alpha, const float* x, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  PB_LAUNCH(axpy_kernel, elementwise_blocks(n), kElementwiseThreads, 0, stream, y, alpha, x, n);
}

void add_bias(float* y, const float* bias, int m, int n, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(m) * static_cast<std::size_t>(n);
  if (total == 0) return;
  PB_LAUNCH(add_bias_kernel, elementwise_blocks(total), kElementwiseThreads, 0, stream, y, bias, total, n);
}

void bias_backward(float* dbias, const float* dy, int m, int n, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return;
  const unsigned blocks = static_cast<unsigned>((n + kBiasColumns - 1) / kBiasColumns);
  PB_LAUNCH(bias_backward_kernel, blocks, dim3(kBiasColumns, kBiasRowLanes), 0, stream, dbias, dy, m, n);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

// BatchNorm over the rows of x (M, C) on the GPU, statistics per column; the CPU backend's is in
// kernels/cpu/ops.cpp and these kernels follow its arithmetic: column sums accumulated in double and
// stored as float, the mean and variance in double, y = x * scale + shift per column. The column
// reductions are deterministic: a fixed grid and a fixed order of additions that depend only on
// (M, C), with no atomics.
#include <cmath>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// Column blocks as bias_backward's: a warp across 32 consecutive columns, so each row segment is one
// coalesced 128-byte load, and 8 warps (row lanes) take every 8th row; their double partial sums
// meet in shared memory and are added in lane order.
constexpr int kColumns = 32;
constexpr int kRowLanes = 8;
// Element-wise passes over (M, C) use the same 32 x 8 blocks, each thread keeping its column's
// constants in registers, with blockIdx.y striding over rows: at most this many row blocks.
constexpr unsigned kRowBlocks = 64;

// sums[j] = float(sum over rows of f(i, j)) for the block's columns; the result is written by the
// threads of row lane 0 (which call `store(j, total)`).
template <typename F, typename Store>
__device__ void column_sums(int m, int c, F f, Store store) {
  __shared__ double partial[kRowLanes][kColumns];
  const int column = static_cast<int>(blockIdx.x) * kColumns + static_cast<int>(threadIdx.x);
  double sum = 0.0;
  if (column < c)
    for (int row = static_cast<int>(threadIdx.y); row < m; row += kRowLanes) sum += f(row, column);
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < c) {
    double total = 0.0;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    store(column, total);
  }
}

__device__ __forceinline__ std::size_t at(int row, int column, int c) {
  return static_cast<std::size_t>(row) * static_cast<std::size_t>(c) + static_cast<std::size_t>(column);
}

// ---- training forward -----------------------------------------------------------------------------

// sums (c + 1): column sums of x, then the row count m.
__global__ void batchnorm_sum_kernel(float* __restrict__ sums /* (c + 1) */, const float* __restrict__ x /* (m, c) */,
                                     int m, int c) {
  column_sums(
      m, c, [&](int row, int column) { return static_cast<double>(x[at(row, column, c)]); },
      [&](int column, double total) { sums[column] = static_cast<float>(total); });
  if (blockIdx.x == 0 && threadIdx.x == 0 && threadIdx.y == 0) sums[c] = static_cast<float>(m);
}

// squares (c): column sums of (x - mean)^2 with mean = sums / rows in double (two passes, so that a
// large mean does not cancel the variance).
__global__ void batchnorm_squares_kernel(float* __restrict__ squares /* (c) */,
                                         const float* __restrict__ sums /* (c + 1) */,
                                         const float* __restrict__ x /* (m, c) */, int m, int c) {
  const double rows = sums[c];
  column_sums(
      m, c,
      [&](int row, int column) {
        const double d = x[at(row, column, c)] - sums[column] / rows;
        return d * d;
      },
      [&](int column, double total) { squares[column] = static_cast<float>(total); });
}

// Per column: mean, rstd, running statistics, and y = x * scale + shift's scale and shift.
__global__ void batchnorm_stats_kernel(float* __restrict__ mean /* (c) */, float* __restrict__ rstd /* (c) */,
                                       float* __restrict__ running_mean /* (c) */,
                                       float* __restrict__ running_var /* (c) */, float* __restrict__ scale /* (c) */,
                                       float* __restrict__ shift /* (c) */,
                                       const float* __restrict__ sums /* (c + 1) */,
                                       const float* __restrict__ squares /* (c) */, const float* __restrict__ gamma,
                                       const float* __restrict__ beta, int c, float eps, float momentum) {
  const double rows = sums[c];
  const double unbiased = rows / (rows - 1);
  for (std::size_t j = global_thread(); j < static_cast<std::size_t>(c); j += grid_threads()) {
    const double mu = sums[j] / rows;
    const double var = squares[j] / rows;
    const double r = 1.0 / sqrt(var + eps);
    mean[j] = static_cast<float>(mu);
    rstd[j] = static_cast<float>(r);
    running_mean[j] = static_cast<float>((1.0 - momentum) * running_mean[j] + momentum * mu);
    running_var[j] = static_cast<float>((1.0 - momentum) * running_var[j] + momentum * var * unbiased);
    scale[j] = static_cast<float>(gamma[j] * r);
    shift[j] = static_cast<float>(beta[j] - mu * gamma[j] * r);
  }
}

// y (m, c) = x * scale + shift per column.
__global__ void batchnorm_apply_kernel(float* y /* (m, c) */, const float* x /* (m, c), may be y */,
                                       const float* __restrict__ scale /* (c) */,
                                       const float* __restrict__ shift /* (c) */, int m, int c) {
  const int column = static_cast<int>(blockIdx.x) * kColumns + static_cast<int>(threadIdx.x);
  if (column >= c) return;
  const float s = scale[column], t = shift[column];
  for (int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y); row < m;
       row += static_cast<int>(gridDim.y * blockDim.y))
    y[at(row, column, c)] = x[at(row, column, c)] * s + t;
}

// ---- evaluation forward ---------------------------------------------------------------------------

__global__ void batchnorm_eval_kernel(float* y /* (m, c) */, const float* x /* (m, c), may be y */,
                                      const float* __restrict__ gamma /* (c) */,
                                      const float* __restrict__ beta /* (c) */,
                                      const float* __restrict__ running_mean /* (c) */,
                                      const float* __restrict__ running_var /* (c) */, int m, int c, float eps) {
  const int column = static_cast<int>(blockIdx.x) * kColumns + static_cast<int>(threadIdx.x);
  if (column >= c) return;
  // As the CPU: scale and shift in double, stored as float.
  const double r = 1.0 / sqrt(static_cast<double>(running_var[column]) + eps);
  const auto s = static_cast<float>(gamma[column] * r);
  const auto t = static_cast<float>(beta[column] - running_mean[column] * (gamma[column] * r));
  for (int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y); row < m;
       row += static_cast<int>(gridDim.y * blockDim.y))
    y[at(row, column, c)] = x[at(row, column, c)] * s + t;
}

// ---- backward -------------------------------------------------------------------------------------

// sums (2c + 1): column sums of dy, of dy * xhat, then the row count; dbeta and dgamma (this
// replica's share) accumulate the same sums.
__global__ void batchnorm_backward_sums_kernel(float* __restrict__ sums /* (2c + 1) */,
                                               float* __restrict__ dgamma /* (c) or nullptr */,
                                               float* __restrict__ dbeta /* (c) or nullptr */,
                                               const float* __restrict__ dy /* (m, c) */,
                                               const float* __restrict__ x /* (m, c) */,
                                               const float* __restrict__ mean /* (c) */,
                                               const float* __restrict__ rstd /* (c) */, int m, int c) {
  const auto cs = static_cast<std::size_t>(c);
  column_sums(
      m, c, [&](int row, int column) { return static_cast<double>(dy[at(row, column, c)]); },
      [&](int column, double total) {
        sums[column] = static_cast<float>(total);
        if (dbeta) dbeta[column] += sums[column];
      });
  __syncthreads();  // the first pass's shared partials are read before the second pass writes them
  column_sums(
      m, c,
      [&](int row, int column) {
        const float xhat = (x[at(row, column, c)] - mean[column]) * rstd[column];
        return static_cast<double>(dy[at(row, column, c)]) * xhat;
      },
      [&](int column, double total) {
        sums[cs + static_cast<std::size_t>(column)] = static_cast<float>(total);
        if (dgamma) dgamma[column] += sums[cs + static_cast<std::size_t>(column)];
      });
  if (blockIdx.x == 0 && threadIdx.x == 0 && threadIdx.y == 0) sums[2 * cs] = static_cast<float>(m);
}

// dx += gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the (whole) batch.
__global__ void batchnorm_backward_dx_kernel(float* __restrict__ dx /* (m, c) */,
                                             const float* __restrict__ sums /* (2c + 1) */,
                                             const float* __restrict__ dy /* (m, c) */,
                                             const float* __restrict__ x /* (m, c) */,
                                             const float* __restrict__ mean /* (c) */,
                                             const float* __restrict__ rstd /* (c) */,
                                             const float* __restrict__ gamma /* (c) */, int m, int c) {
  const int column = static_cast<int>(blockIdx.x) * kColumns + static_cast<int>(threadIdx.x);
  if (column >= c) return;
  const auto cs = static_cast<std::size_t>(c);
  const double rows = sums[2 * cs];
  const float k = gamma[column] * rstd[column];
  const auto mean_dy = static_cast<float>(sums[column] / rows);
  const auto mean_dy_xhat = static_cast<float>(sums[cs + static_cast<std::size_t>(column)] / rows);
  const float mu = mean[column], r = rstd[column];
  for (int row = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y); row < m;
       row += static_cast<int>(gridDim.y * blockDim.y)) {
    const float xhat = (x[at(row, column, c)] - mu) * r;
    dx[at(row, column, c)] += k * (dy[at(row, column, c)] - mean_dy - xhat * mean_dy_xhat);
  }
}

unsigned column_blocks(int c) { return static_cast<unsigned>((c + kColumns - 1) / kColumns); }
dim3 elementwise_grid(int m, int c) {
  const auto row_blocks = static_cast<unsigned>((m + kRowLanes - 1) / kRowLanes);
  return {column_blocks(c), std::min(row_blocks, kRowBlocks)};
}
dim3 column_block() { return {static_cast<unsigned>(kColumns), static_cast<unsigned>(kRowLanes)}; }

}  // namespace

std::size_t batchnorm_workspace_size(int c) { return 4 * static_cast<std::size_t>(c) + 1; }

void batchnorm_forward_train(float* y, float* mean, float* rstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int m, int c, float eps,
                             float momentum, float* workspace, const ReplicaSum* across, cudaStream_t stream) {
  if (c <= 0) return;
  const auto cs = static_cast<std::size_t>(c);
  float* sums = workspace;         // (c + 1)
  float* squares = sums + cs + 1;  // (c)
  float* scale = squares + cs;     // (c)
  float* shift = scale + cs;       // (c)
  PB_LAUNCH(batchnorm_sum_kernel, column_blocks(c), column_block(), 0, stream, sums, x, m, c);
  auto rows = static_cast<float>(m);
  if (across) {
    (*across)(sums, cs + 1);
    CUDA_CHECK(cudaMemcpyAsync(&rows, sums + cs, sizeof rows, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  PB_HOST_CHECK(rows >= 2, "BatchNorm in training mode needs more than one value per channel (got " +
                               std::to_string(static_cast<long long>(rows)) + " rows of " + std::to_string(c) +
                               " channels): use a larger batch or per-worker shard");
  PB_LAUNCH(batchnorm_squares_kernel, column_blocks(c), column_block(), 0, stream, squares, sums, x, m, c);
  if (across) (*across)(squares, cs);
  PB_LAUNCH(batchnorm_stats_kernel, elementwise_blocks(cs), kElementwiseThreads, 0, stream, mean, rstd, running_mean,
            running_var, scale, shift, sums, squares, gamma, beta, c, eps, momentum);
  if (m > 0)
    PB_LAUNCH(batchnorm_apply_kernel, elementwise_grid(m, c), column_block(), 0, stream, y, x, scale, shift, m, c);
}

void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, int m, int c, float eps, cudaStream_t stream) {
  if (m <= 0 || c <= 0) return;
  PB_LAUNCH(batchnorm_eval_kernel, elementwise_grid(m, c), column_block(), 0, stream, y, x, gamma, beta, running_mean,
            running_var, m, c, eps);
}

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                        const float* rstd, const float* gamma, int m, int c, float* workspace, const ReplicaSum* across,
                        cudaStream_t stream) {
  if (c <= 0) return;
  const auto cs = static_cast<std::size_t>(c);
  float* sums = workspace;  // (2c + 1)
  PB_LAUNCH(batchnorm_backward_sums_kernel, column_blocks(c), column_block(), 0, stream, sums, dgamma, dbeta, dy, x,
            mean, rstd, m, c);
  if (!dx) return;
  if (across) (*across)(sums, 2 * cs + 1);
  if (m > 0)
    PB_LAUNCH(batchnorm_backward_dx_kernel, elementwise_grid(m, c), column_block(), 0, stream, dx, sums, dy, x, mean,
              rstd, gamma, m, c);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

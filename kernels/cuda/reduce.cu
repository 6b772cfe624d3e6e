// Sum of squares for the global gradient norm: a deterministic two-level reduction accumulated in
// double (the CPU backend's kernels/cpu/ops.cpp sums in double too). Level 1: a fixed number of
// blocks, each a grid-stride partial sum; level 2: one block adds the partials. The grid depends
// only on n, so the order of additions, and the result, are the same bit for bit on every call.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

constexpr int kReduceThreads = 256;  // 8 warps: the block sum is one warp over 8 warp sums
// Partial sums: 256 blocks of 256 threads keep an H100's 132 SMs busy for the gradient sizes of
// the workloads (~10^5 to 10^7), and one block of 256 threads adds them in the second level.
constexpr unsigned kReduceBlocks = 256;

// Sum over the block (kReduceThreads threads) in a fixed order; the result is valid in thread 0.
__device__ double block_sum(double value) {
  __shared__ double warp_sums[kReduceThreads / kWarpSize];
  const unsigned lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  value = warp_all_sum(value);
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) value = warp_all_sum(lane < kReduceThreads / kWarpSize ? warp_sums[lane] : 0.0);
  return value;
}

__global__ void sum_squares_partial_kernel(double* __restrict__ partials /* (gridDim.x) */,
                                           const float* __restrict__ x /* (n) */, std::size_t n) {
  double sum = 0.0;
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) {
    const double v = x[i];
    sum += v * v;
  }
  sum = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

__global__ void sum_squares_final_kernel(double* __restrict__ result /* (1) */,
                                         const double* __restrict__ partials /* (count) */, unsigned count) {
  double sum = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) *result = sum;
}

}  // namespace

std::size_t sum_squares_workspace_size() { return kReduceBlocks + 1; }

double sum_squares(const float* x, std::size_t n, double* workspace, cudaStream_t stream) {
  if (n == 0) return 0.0;
  const std::size_t wanted = (n + kReduceThreads - 1) / kReduceThreads;
  const auto blocks = static_cast<unsigned>(std::min<std::size_t>(wanted, kReduceBlocks));
  double* partials = workspace;                // (kReduceBlocks)
  double* result = workspace + kReduceBlocks;  // (1)
  PB_LAUNCH(sum_squares_partial_kernel, blocks, kReduceThreads, 0, stream, partials, x, n);
  PB_LAUNCH(sum_squares_final_kernel, 1, kReduceThreads, 0, stream, result, partials, blocks);
  double host = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&host, result, sizeof host, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

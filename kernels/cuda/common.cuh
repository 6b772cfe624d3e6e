// Helpers shared by the kernels of kernels/cuda/: launch geometry of element-wise kernels and
// warp/block reductions. Compiled by nvcc for the GPU and by g++ against the emulation (emu/).
#pragma once

#include <algorithm>
#include <cstddef>

#include "kernels/cuda/runtime.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

// Element-wise kernels: 256 threads per block, 8 warps: a multiple of the warp, enough warps per
// block to hide memory latency, and 8 resident blocks fill an SM's 2048 threads on sm_80/sm_90.
constexpr int kElementwiseThreads = 256;
// Grid-stride loops cover any n with at most this many blocks: an H100 holds 132 SMs x 8 such
// blocks (1056) at once, so more blocks only add scheduling; and the emulation's cost is per block.
constexpr std::size_t kMaxElementwiseBlocks = 1024;

// Blocks for n elements, at least 1 (callers return before launching on n == 0).
inline unsigned elementwise_blocks(std::size_t n) {
  const std::size_t blocks = (n + kElementwiseThreads - 1) / kElementwiseThreads;
  return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, kMaxElementwiseBlocks));
}

// Index of this thread in the grid and the grid's thread count, in size_t: n can pass 2^31.
__device__ __forceinline__ std::size_t global_thread() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::size_t grid_threads() { return static_cast<std::size_t>(gridDim.x) * blockDim.x; }

// The warp size as a compile-time constant: nvcc's warpSize is a run-time value, which cannot size
// a __shared__ array or unroll a loop. 32 on every NVIDIA GPU.
constexpr int kWarpSize = 32;
constexpr unsigned kFullWarp = 0xffffffffu;

// Sum over the 32 lanes of a full warp, in a fixed tree order; the result is in every lane.
template <typename T>
__device__ __forceinline__ T warp_all_sum(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullWarp, value, offset);
  return value;
}
template <typename T>
__device__ __forceinline__ T warp_all_max(T value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const T other = __shfl_xor_sync(kFullWarp, value, offset);
    value = other > value ? other : value;
  }
  return value;
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

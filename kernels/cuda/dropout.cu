// Inverted dropout on the GPU with the CPU backend's counter-based masks (kernels/cpu/ops.cpp):
// the mask of element e of global sample s is kernels/math.h's dropout_keep(dropout_row_key(seed,
// stream, s), e, p), so both backends, and every split of a batch, drop the same elements.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// A 2-D grid: blockIdx.y walks the rows (samples), blockIdx.x the elements of a row, so each
// thread mixes the 64-bit row key once per row it visits and then pays only the 32-bit hash per
// element, as the CPU does (64-bit multiplies are several instructions on the GPU). Both are
// grid-stride loops; the caps keep the grid within CUDA's 65535 y-blocks and the block count of
// element-wise kernels (kMaxElementwiseBlocks).
constexpr unsigned kDropoutColumnBlocks = 16;  // x 256 threads: rows of up to 4096 in one stride
constexpr unsigned kDropoutRowBlocks = 1024;   // rows at once; more only add scheduling

// x * keep_scale rounded once, never contracted with the += of backward into an fma, so that the
// values equal the CPU's bit for bit (the CPU computes the product, then adds it).
__device__ __forceinline__ float scaled(float x, float keep_scale) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(x, keep_scale);
#else
  return x * keep_scale;
#endif
}

__global__ void dropout_forward_kernel(float* y /* (samples, per_sample) */,
                                       const float* x /* (samples, per_sample), may be y */, int samples,
                                       int per_sample, std::int64_t first_sample, std::uint64_t seed,
                                       std::uint64_t stream, float p, float keep_scale) {
  const auto width = static_cast<std::size_t>(per_sample);
  for (int s = static_cast<int>(blockIdx.y); s < samples; s += static_cast<int>(gridDim.y)) {
    const std::uint32_t key = dropout_row_key(seed, stream, static_cast<std::uint64_t>(first_sample + s));
    const std::size_t offset = static_cast<std::size_t>(s) * width;
    for (std::size_t e = global_thread(); e < width; e += grid_threads())
      y[offset + e] = dropout_keep(key, static_cast<std::uint32_t>(e), p) ? scaled(x[offset + e], keep_scale) : 0.0f;
  }
}

__global__ void dropout_backward_kernel(float* __restrict__ dx /* (samples, per_sample) */,
                                        const float* __restrict__ dy /* (samples, per_sample) */, int samples,
                                        int per_sample, std::int64_t first_sample, std::uint64_t seed,
                                        std::uint64_t stream, float p, float keep_scale) {
  const auto width = static_cast<std::size_t>(per_sample);
  for (int s = static_cast<int>(blockIdx.y); s < samples; s += static_cast<int>(gridDim.y)) {
    const std::uint32_t key = dropout_row_key(seed, stream, static_cast<std::uint64_t>(first_sample + s));
    const std::size_t offset = static_cast<std::size_t>(s) * width;
    for (std::size_t e = global_thread(); e < width; e += grid_threads())
      dx[offset + e] += dropout_keep(key, static_cast<std::uint32_t>(e), p) ? scaled(dy[offset + e], keep_scale) : 0.0f;
  }
}

dim3 dropout_grid(int samples, int per_sample) {
  const auto columns = (static_cast<unsigned>(per_sample) + kElementwiseThreads - 1) / kElementwiseThreads;
  return {std::min(columns, kDropoutColumnBlocks), std::min(static_cast<unsigned>(samples), kDropoutRowBlocks)};
}

// As the CPU: p = 1 keeps nothing, and scale 0 avoids computing 1/0. Computed here on the host, in
// the same float arithmetic as the CPU backend, so both scale by the same value.
float keep_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

}  // namespace

void dropout_forward(float* y, const float* x, int samples, int per_sample, std::int64_t first_sample,
                     std::uint64_t seed, std::uint64_t rng_stream, float p, cudaStream_t stream) {
  if (samples <= 0 || per_sample <= 0) return;
  PB_LAUNCH(dropout_forward_kernel, dropout_grid(samples, per_sample), kElementwiseThreads, 0, stream, y, x, samples,
            per_sample, first_sample, seed, rng_stream, p, keep_scale(p));
}

void dropout_backward(float* dx, const float* dy, int samples, int per_sample, std::int64_t first_sample,
                      std::uint64_t seed, std::uint64_t rng_stream, float p, cudaStream_t stream) {
  if (samples <= 0 || per_sample <= 0) return;
  PB_LAUNCH(dropout_backward_kernel, dropout_grid(samples, per_sample), kElementwiseThreads, 0, stream, dx, dy, samples,
            per_sample, first_sample, seed, rng_stream, p, keep_scale(p));
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

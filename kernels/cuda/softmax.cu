// Row softmax on the GPU; the CPU backend's is softmax_row in kernels/cpu/ops.cpp: subtract the
// row's max, exponentiate in float, sum in double, multiply by the float reciprocal of the sum.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// One warp per row: the rows are short (2 and 14 classes in the workloads, T = 20 for attention),
// so a warp covers a row in one or two strides and reduces it with shuffles, without shared memory
// or __syncthreads. 4 rows (warps) per block, so that a block is not one lonely warp.
constexpr int kSoftmaxRowsPerBlock = 4;

__global__ void softmax_forward_kernel(float* probs /* (batch, classes) */,
                                       const float* logits /* (batch, classes), may be probs */, int batch,
                                       int classes) {
  const int row = static_cast<int>(blockIdx.x) * kSoftmaxRowsPerBlock + static_cast<int>(threadIdx.y);
  if (row >= batch) return;  // the whole warp leaves together: its shuffles stay full-warp
  const std::size_t offset = static_cast<std::size_t>(row) * static_cast<std::size_t>(classes);
  const float* z = logits + offset;  // (classes)
  float* p = probs + offset;         // (classes)
  const int lane = static_cast<int>(threadIdx.x);
  float max_z = -INFINITY;
  for (int j = lane; j < classes; j += kWarpSize) max_z = fmaxf(max_z, z[j]);
  max_z = warp_all_max(max_z);
  // Every lane has read its elements of z before the shuffle above, and writes only those: in
  // place is safe.
  double sum = 0.0;
  for (int j = lane; j < classes; j += kWarpSize) {
    const float e = expf(z[j] - max_z);
    p[j] = e;
    sum += e;
  }
  sum = warp_all_sum(sum);
  const auto inverse = static_cast<float>(1.0 / sum);
  for (int j = lane; j < classes; j += kWarpSize) p[j] *= inverse;
}

}  // namespace

void softmax_forward(float* probs, const float* logits, int batch, int classes, cudaStream_t stream) {
  if (batch <= 0 || classes <= 0) return;
  const auto blocks = static_cast<unsigned>((batch + kSoftmaxRowsPerBlock - 1) / kSoftmaxRowsPerBlock);
  PB_LAUNCH(softmax_forward_kernel, blocks, dim3(kWarpSize, kSoftmaxRowsPerBlock), 0, stream, probs, logits, batch,
            classes);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

// Cross-entropy and focal losses over softmax probabilities on the GPU, with label smoothing and
// class weights; the CPU backend's are loss_forward / loss_backward in kernels/cpu/ops.cpp, and the
// per-class terms are kernels/math.h's (smoothed_target, focal_loss_term, focal_grad_term).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

// One warp per row, as softmax.cu: the rows are short (2 and 14 classes in the workloads), a warp
// covers one in a stride and sums it with shuffles. 4 rows (warps) per block.
constexpr int kLossRowsPerBlock = 4;

// The row of this warp, or -1 past the batch (the whole warp leaves together).
__device__ __forceinline__ int loss_row(int batch) {
  const int row = static_cast<int>(blockIdx.x) * kLossRowsPerBlock + static_cast<int>(threadIdx.y);
  return row < batch ? row : -1;
}

__global__ void loss_forward_kernel(float* __restrict__ losses /* (batch) */,
                                    const float* __restrict__ probs /* (batch, classes) */,
                                    const std::int32_t* __restrict__ targets /* (batch) */,
                                    const float* __restrict__ class_weights /* (classes) or nullptr */, int batch,
                                    int classes, LossParams spec) {
  const int row = loss_row(batch);
  if (row < 0) return;
  const int lane = static_cast<int>(threadIdx.x);
  const int target = targets[row];
  // The CPU backend raises on a target outside [0, C); a kernel cannot, so the sample's loss is NaN
  // (every lane reads the same target: the warp leaves together).
  if (target < 0 || target >= classes) {
    if (lane == 0) losses[row] = NAN;
    return;
  }
  const float* p = probs + static_cast<std::size_t>(row) * static_cast<std::size_t>(classes);  // (classes)
  double loss = 0.0;  // as the CPU: float terms summed in double
  for (int k = lane; k < classes; k += kWarpSize) {
    const float q = smoothed_target(k == target, spec.label_smoothing, classes);
    loss +=
        spec.focal ? focal_loss_term(p[k], q, spec.focal_alpha, spec.focal_gamma) : -q * logf(fmaxf(p[k], kMinProb));
  }
  loss = warp_all_sum(loss);
  if (lane == 0) losses[row] = static_cast<float>(loss) * (class_weights ? class_weights[target] : 1.0f);
}

__global__ void loss_backward_kernel(float* __restrict__ dlogits /* (batch, classes) */,
                                     const float* __restrict__ probs /* (batch, classes) */,
                                     const std::int32_t* __restrict__ targets /* (batch) */,
                                     const float* __restrict__ class_weights /* (classes) or nullptr */, int batch,
                                     int classes, LossParams spec, float scale) {
  const int row = loss_row(batch);
  if (row < 0) return;
  const int lane = static_cast<int>(threadIdx.x);
  const int target = targets[row];
  const std::size_t offset = static_cast<std::size_t>(row) * static_cast<std::size_t>(classes);
  const float* p = probs + offset;        // (classes)
  float* dz = dlogits + offset;           // (classes)
  if (target < 0 || target >= classes) {  // NaN gradients, as the forward's NaN loss
    for (int k = lane; k < classes; k += kWarpSize) dz[k] = NAN;
    return;
  }
  const float factor = scale * (class_weights ? class_weights[target] : 1.0f);
  if (!spec.focal) {
    // Cross-entropy through softmax: dL/dz = p - q (sum q = 1).
    for (int k = lane; k < classes; k += kWarpSize)
      dz[k] += factor * (p[k] - smoothed_target(k == target, spec.label_smoothing, classes));
    return;
  }
  // Focal: dL/dz_j = g_j - p_j sum_c g_c with g_c = p_c dL/dp_c (see the CPU backend).
  double sum_g = 0.0;
  for (int k = lane; k < classes; k += kWarpSize)
    sum_g += focal_grad_term(p[k], smoothed_target(k == target, spec.label_smoothing, classes), spec.focal_alpha,
                             spec.focal_gamma);
  const auto total = static_cast<float>(warp_all_sum(sum_g));
  for (int k = lane; k < classes; k += kWarpSize) {
    const float g = focal_grad_term(p[k], smoothed_target(k == target, spec.label_smoothing, classes), spec.focal_alpha,
                                    spec.focal_gamma);
    dz[k] += factor * (g - p[k] * total);
  }
}

unsigned loss_blocks(int batch) { return static_cast<unsigned>((batch + kLossRowsPerBlock - 1) / kLossRowsPerBlock); }

}  // namespace

void loss_forward(float* losses, const float* probs, const std::int32_t* targets, const float* class_weights, int batch,
                  int classes, const LossParams& spec, cudaStream_t stream) {
  if (batch <= 0 || classes <= 0) return;
  PB_LAUNCH(loss_forward_kernel, loss_blocks(batch), dim3(kWarpSize, kLossRowsPerBlock), 0, stream, losses, probs,
            targets, class_weights, batch, classes, spec);
}

void loss_backward(float* dlogits, const float* probs, const std::int32_t* targets, const float* class_weights,
                   int batch, int classes, const LossParams& spec, float scale, cudaStream_t stream) {
  if (batch <= 0 || classes <= 0) return;
  PB_LAUNCH(loss_backward_kernel, loss_blocks(batch), dim3(kWarpSize, kLossRowsPerBlock), 0, stream, dlogits, probs,
            targets, class_weights, batch, classes, spec, scale);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

// SGD and Adam steps on the GPU; the CPU backend's are in kernels/cpu/ops.cpp. Adam's per-element
// update is kernels/math.h's adam_update, and its bias corrections are computed once per call on the
// host in double, as the CPU does, so both backends run the same arithmetic.
#include <cmath>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/math.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {

__global__ void sgd_step_kernel(float* __restrict__ param /* (n) */, const float* __restrict__ grad /* (n) */,
                                std::size_t n, float lr) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) param[i] -= lr * grad[i];
}

__global__ void adam_step_kernel(float* __restrict__ param /* (n) */, float* __restrict__ m /* (n) */,
                                 float* __restrict__ v /* (n) */, const float* __restrict__ grad /* (n) */,
                                 std::size_t n, float lr, float beta1, float beta2, float eps, float correction1,
                                 float correction2) {
  for (std::size_t i = global_thread(); i < n; i += grid_threads()) {
    float p = param[i], mi = m[i], vi = v[i];
    adam_update(p, mi, vi, grad[i], lr, beta1, beta2, eps, correction1, correction2);
    param[i] = p;
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

void sgd_step(float* param, const float* grad, std::size_t n, float lr, cudaStream_t stream) {
  if (n == 0) return;
  PB_LAUNCH(sgd_step_kernel, elementwise_blocks(n), kElementwiseThreads, 0, stream, param, grad, n, lr);
}

void adam_step(float* param, float* m, float* v, const float* grad, std::size_t n, float lr, float beta1, float beta2,
               float eps, std::int64_t step, cudaStream_t stream) {
  PB_HOST_CHECK(step >= 1, "Adam steps count from 1, got " + std::to_string(step));
  if (n == 0) return;
  // 1 - beta^step in double, then float: the CPU backend's expressions, so the same values.
  const auto correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const auto correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  PB_LAUNCH(adam_step_kernel, elementwise_blocks(n), kElementwiseThreads, 0, stream, param, m, v, grad, n, lr, beta1,
            beta2, eps, correction1, correction2);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

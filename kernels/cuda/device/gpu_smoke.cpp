// The nvcc-built kernels linked into a program: proves the CUDA build links against the runtime
// alone (no libcuda) and starts where there is no driver. With a GPU it runs fill and the
// sum-of-squares reduction and checks exact results; without one it says why and exits 77 (skip).
#include <cstdio>
#include <vector>

#include "kernels/cuda/ops.h"

int main() {
  using namespace parbench::kernels::cuda;
  int devices = 0;  // cudaGetDeviceCount leaves it untouched on failure
  if (const cudaError_t status = cudaGetDeviceCount(&devices); status != cudaSuccess || devices == 0) {
    std::printf("no usable GPU (%s; CUDA 13 needs driver >= 580): skipped\n",
                status != cudaSuccess ? cudaGetErrorString(status) : "no device");
    return 77;
  }
  constexpr std::size_t kCount = 1000003;  // not a multiple of any block size
  float* x = nullptr;
  double* workspace = nullptr;
  CUDA_CHECK(cudaMalloc(&x, kCount * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&workspace, sum_squares_workspace_size() * sizeof(double)));
  fill(x, 0.5f, kCount, nullptr);
  const double sum = sum_squares(x, kCount, workspace, nullptr);  // 0.25 per element: exact in double
  CUDA_CHECK(cudaFree(workspace));
  CUDA_CHECK(cudaFree(x));
  const double expected = 0.25 * kCount;
  std::printf("sum_squares of %zu x 0.5 = %.17g (expected %.17g)\n", kCount, sum, expected);
  return sum == expected ? 0 : 1;
}

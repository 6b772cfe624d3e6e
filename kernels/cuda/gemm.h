// GEMM for the CUDA backend: cuBLAS (the real one under nvcc's build, the CPU-BLAS emulation of
// emu/cublas.h in the emulated build), called with the Backend's row-major convention, and the
// project's CUBLAS_CHECK.
#pragma once

#include "kernels/backend.h"
#include "kernels/cuda/runtime.h"

#if PARBENCH_CUDA_EMULATION
#include "kernels/cuda/emu/cublas.h"
#else
#include <cublas_v2.h>
#endif

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

// c (m, n) = alpha * op(a) op(b) + beta * c, row-major with row strides lda, ldb, ldc (as
// Backend::gemm), on the handle's stream and in its math mode (fp32, or TF32 with --tf32).
void gemm(cublasHandle_t handle, float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n,
          int k, Trans ta, Trans tb, float alpha, float beta);

// `batch` independent products of gemm's form; operand i of a, b, c starts stride_a, stride_b,
// stride_c floats after operand i - 1 (cublasSgemmStridedBatched: one launch for all of them).
void gemm_strided_batched(cublasHandle_t handle, float* c, int ldc, long long stride_c, const float* a, int lda,
                          long long stride_a, const float* b, int ldb, long long stride_b, int m, int n, int k,
                          Trans ta, Trans tb, float alpha, float beta, int batch);

// CUBLAS_CHECK's failure path: parbench::check_failed with the status's name and text.
[[noreturn]] void cublas_failed(const char* file, int line, const char* expression, int status);

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

#define CUBLAS_CHECK(expression)                                                                                      \
  do {                                                                                                                \
    const cublasStatus_t pb_cublas_status_ = (expression);                                                            \
    if (pb_cublas_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                                      \
      ::parbench::kernels::cuda::cublas_failed(__FILE__, __LINE__, #expression, static_cast<int>(pb_cublas_status_)); \
  } while (0)

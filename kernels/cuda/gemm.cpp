// Row-major GEMM over column-major cuBLAS (gemm.h). Host code only: compiled by the host compiler
// in both CUDA builds, against <cublas_v2.h> or the emulation.
#include "kernels/cuda/gemm.h"

#include <fmt/format.h>

#include "core/check.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

namespace {
cublasOperation_t op(Trans t) { return t == Trans::yes ? CUBLAS_OP_T : CUBLAS_OP_N; }
}  // namespace

void gemm(cublasHandle_t handle, float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n,
          int k, Trans ta, Trans tb, float alpha, float beta) {
  // Row-major c (m, n) is column-major c^T (n, m) = op(b)^T op(a)^T, and a row-major operand read
  // column-major is its own transpose: so cuBLAS gets b before a, each with its own flag.
  CUBLAS_CHECK(cublasSgemm(handle, op(tb), op(ta), n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
}

void gemm_strided_batched(cublasHandle_t handle, float* c, int ldc, long long stride_c, const float* a, int lda,
                          long long stride_a, const float* b, int ldb, long long stride_b, int m, int n, int k,
                          Trans ta, Trans tb, float alpha, float beta, int batch) {
  CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op(tb), op(ta), n, m, k, &alpha, b, ldb, stride_b, a, lda, stride_a,
                                         &beta, c, ldc, stride_c, batch));
}

void cublas_failed(const char* file, int line, const char* expression, int status) {
  const auto code = static_cast<cublasStatus_t>(status);
  ::parbench::check_failed(
      file, line, expression,
      fmt::format("cuBLAS error {} {}: {}", status, cublasGetStatusName(code), cublasGetStatusString(code)));
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

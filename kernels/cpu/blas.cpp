// sgemm over OpenBLAS's CBLAS. Provisional: the library choice and the core-type selection land
// with the BLAS benchmark (issue 3).
#include "kernels/cpu/blas.h"

#include <cblas.h>

#include <fmt/format.h>

namespace parbench::kernels::cpu {

void sgemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta,
           Trans tb, float alpha, float beta) {
  cblas_sgemm(CblasRowMajor, ta == Trans::yes ? CblasTrans : CblasNoTrans, tb == Trans::yes ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

int blas_threads() { return openblas_get_num_threads(); }

std::string blas_description() {
  return fmt::format("OpenBLAS ({}), kernels {}, {} thread(s)", openblas_get_config(), openblas_get_corename(),
                     openblas_get_num_threads());
}

}  // namespace parbench::kernels::cpu

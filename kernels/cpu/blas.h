// The CPU backend's GEMM: one function over a CBLAS library, plus what ran and its threads.
// Which library and how its fast kernels are selected is decided in blas.cpp (design.md §3).
#pragma once

#include <string>

#include "kernels/backend.h"

namespace parbench::kernels::cpu {

// c (m, n) = alpha * op(a) op(b) + beta * c, row-major with leading dimensions (as Backend::gemm).
void sgemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta,
           Trans tb, float alpha, float beta);

// Threads the BLAS library uses for one call.
void set_blas_threads(int threads);
int blas_threads();

// "OpenBLAS 0.3.21, kernels SkylakeX, pthreads (max 2)" — for the run context.
std::string blas_description();

}  // namespace parbench::kernels::cpu

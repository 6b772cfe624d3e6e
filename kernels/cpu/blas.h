// The CPU backend's GEMM: one function over a CBLAS library, plus what ran and its threads.
// Which library and how its fast kernels are selected is decided in blas.cpp (design.md §3).
#pragma once

#include <string>

#include "kernels/backend.h"

namespace parbench::kernels::cpu {

// c (m, n) = alpha * op(a) op(b) + beta * c, row-major with leading dimensions (as Backend::gemm).
void sgemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta, Trans tb,
           float alpha, float beta);

// Threads the GEMMs of the CALLING thread use (a thread-local setting; new threads start at 1).
void set_blas_threads(int threads);
int blas_threads();

// "oneDNN 2.6.3 dnnl_sgemm, isa avx512_core_bf16, 1 thread(s)": for the run context.
std::string blas_description();

}  // namespace parbench::kernels::cpu

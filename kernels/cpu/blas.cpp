// sgemm through oneDNN's dnnl_sgemm (row-major). Chosen by measurement (issue 3 note): on this
// machine it matches OpenBLAS's AVX-512 kernels on the large GEMMs and beats them by 1.2-1.6x on
// the LSTM recurrence and attention shapes, single-threaded; and it picks its kernels from the
// CPU's feature bits at run time, where Debian's OpenBLAS 0.3.21 needs OPENBLAS_CORETYPE set
// before it loads (and halves its speed when that variable says Haswell, as it does here).
//
// Debian builds oneDNN with OpenMP, whose thread count is a per-thread setting: threads that
// TBB or a strategy start would otherwise use every core each. So the count is thread-local here
// and applied before every call (a no-op when unchanged).
#include "kernels/cpu/blas.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <fmt/format.h>

#include "core/check.h"

namespace parbench::kernels::cpu {

namespace {

thread_local int t_threads = 1;

const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

}  // namespace

void sgemm(float* c, int ldc, const float* a, int lda, const float* b, int ldb, int m, int n, int k, Trans ta, Trans tb,
           float alpha, float beta) {
  if (omp_get_max_threads() != t_threads) omp_set_num_threads(t_threads);
  const dnnl_status_t status = dnnl_sgemm(ta == Trans::yes ? 'T' : 'N', tb == Trans::yes ? 'T' : 'N', m, n, k, alpha, a,
                                          lda, b, ldb, beta, c, ldc);
  PB_CHECK(status == dnnl_success, "dnnl_sgemm m={} n={} k={} lda={} ldb={} ldc={}: status {}", m, n, k, lda, ldb, ldc,
           static_cast<int>(status));
}

void set_blas_threads(int threads) { t_threads = threads < 1 ? 1 : threads; }

int blas_threads() { return t_threads; }

std::string blas_description() {
  const dnnl_version_t* version = dnnl_version();
  return fmt::format("oneDNN {}.{}.{} dnnl_sgemm, isa {}, {} thread(s)", version->major, version->minor, version->patch,
                     isa_name(dnnl_get_effective_cpu_isa()), t_threads);
}

}  // namespace parbench::kernels::cpu

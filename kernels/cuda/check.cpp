// CUDA_CHECK's and PB_HOST_CHECK's failure paths (runtime.h), compiled by the host compiler in both CUDA builds: it
// reports through the project's one check family (core/check.h), which names host, rank and
// file:line and ends every MPI rank.
#include <string>

#include "core/check.h"
#include "kernels/cuda/runtime.h"

namespace parbench::kernels::cuda {
inline namespace PB_CUDA_VARIANT {

void cuda_failed(const char* file, int line, const char* expression, int code, const char* name, const char* text) {
  std::string detail = fmt::format("CUDA error {} {}: {}", code, name, text);
#if PARBENCH_CUDA_EMULATION
  if (!::parbench::cuda_emu::last_error_detail().empty())
    detail += fmt::format(" ({})", ::parbench::cuda_emu::last_error_detail());
#endif
  ::parbench::check_failed(file, line, expression, detail);
}

void host_check_failed(const char* file, int line, const char* expression, const std::string& detail) {
  ::parbench::check_failed(file, line, expression, detail);
}

}  // namespace PB_CUDA_VARIANT
}  // namespace parbench::kernels::cuda

// The one failure path for broken invariants and failed library calls (MPI, CUDA, NCCL, ...):
// print host, rank, file:line, the failed expression and a detail, then abort every MPI rank so
// no rank waits forever in a collective. Per-library macros are built from PB_CHECK_DETAIL.
#pragma once

#include <string>

#include <fmt/format.h>

namespace parbench {

[[noreturn]] void check_failed(const char* file, int line, const char* expression, const std::string& detail);

// "host rank R" for messages; the rank comes from MPI when it is initialised, else from the
// launcher's environment (OMPI_COMM_WORLD_RANK, PMIX_RANK, SLURM_PROCID), else 0.
std::string host_name();
// True when MPI is running with more than one rank.
bool in_distributed_job();
// After an error has been printed: when this process is one rank of several, end every rank now
// (MPI_Abort with `status`) so that none waits forever in a collective; otherwise return.
void end_job_after_error(int status);
int process_rank();

}  // namespace parbench

// Generic form: `ok` is evaluated once; `detail` (a std::string expression) only on failure.
#define PB_CHECK_DETAIL(ok, expression_text, detail)                           \
  do {                                                                         \
    if (!(ok)) [[unlikely]]                                                    \
      ::parbench::check_failed(__FILE__, __LINE__, expression_text, (detail)); \
  } while (0)

// PB_CHECK(n > 0) or PB_CHECK(n > 0, "n = {}", n)
#define PB_CHECK(cond, ...) PB_CHECK_DETAIL((cond), #cond, ::fmt::format("" __VA_ARGS__))

// Implementation of the failure path: one message on stderr, then MPI_Abort (or abort()).
#include "core/check.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#if PARBENCH_HAVE_MPI
#include <mpi.h>
#endif

namespace parbench {

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name) != 0) return "unknown-host";
  return name;
}

int process_rank() {
#if PARBENCH_HAVE_MPI
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
  }
#endif
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* value = std::getenv(var)) return std::atoi(value);
  }
  return 0;
}

void check_failed(const char* file, int line, const char* expression, const std::string& detail) {
  // One fprintf so lines of different ranks do not interleave mid-message.
  std::string message = fmt::format("parbench: check failed on {} rank {} at {}:{}: {}", host_name(), process_rank(),
                                    file, line, expression);
  if (!detail.empty()) message += fmt::format(" ({})", detail);
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
#if PARBENCH_HAVE_MPI
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
  std::abort();
}

bool in_distributed_job() {
#if PARBENCH_HAVE_MPI
  int initialized = 0, finalized = 0, size = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size > 1;
#else
  return false;
#endif
}

void end_job_after_error(int status) {
#if PARBENCH_HAVE_MPI
  if (in_distributed_job()) MPI_Abort(MPI_COMM_WORLD, status);
#endif
  (void)status;
}

}  // namespace parbench

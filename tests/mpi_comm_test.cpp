// The `mpi` communicator under mpiexec (any number of ranks; ctest runs 1 to 4): the exact cases
// of tests/comm_cases.h over make_world_comm(), plus rank/size and the counters. Every rank prints
// its own mismatches; the job exits non-zero when any rank saw one, and aborts every rank when a
// collective throws, so a failure never hangs the job.
#include <mpi.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "comm_cases.h"
#include "core/check.h"
#include "strategies/comm.h"

namespace {

using namespace parbench;

std::vector<std::string> run_all_checks() {
  auto comm = strategies::make_world_comm();
  int world_rank = 0, world_size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  std::vector<std::string> failures;
  if (comm->name() != "mpi" || comm->rank() != world_rank || comm->size() != world_size) {
    failures.push_back(fmt::format("world comm is {} rank {} of {}, MPI says rank {} of {}", comm->name(), comm->rank(),
                                   comm->size(), world_rank, world_size));
  }
  if (strategies::launched_with_mpi() != (world_size > 1)) {
    failures.push_back(
        fmt::format("launched_with_mpi() is {} with {} ranks", strategies::launched_with_mpi(), world_size));
  }

  comm->reset_counters();
  auto exact = test::run_exact_comm_cases(*comm);
  failures.insert(failures.end(), exact.begin(), exact.end());

  // Counters of a known sequence: calls and nccl-tests sizes in bytes.
  comm->reset_counters();
  std::vector<float> data(10, 1.0f);
  comm->all_reduce(data.data(), 10, strategies::Reduction::sum);
  comm->all_reduce(data.data(), 3, strategies::Reduction::sum);
  const auto counts = strategies::even_parts(10, comm->size());
  comm->all_gather(data.data(), counts);
  const auto c = comm->counters();
  if (c.count("all_reduce") == 0 || c.at("all_reduce").calls != 2 || c.at("all_reduce").bytes != 52.0 ||
      c.at("all_reduce").seconds <= 0 || c.count("all_gather") == 0 || c.at("all_gather").bytes != 40.0) {
    failures.push_back(
        fmt::format("rank {}: unexpected counters after 2 all_reduce (13 floats) and 1 all_gather (10)", comm->rank()));
  }

  // Every rank learns whether any rank failed, so all exit with the same status.
  float failed = failures.empty() ? 0.0f : 1.0f;
  comm->all_reduce(&failed, 1, strategies::Reduction::sum);
  if (failed > 0 && failures.empty()) failures.push_back("(another rank failed)");
  return failures;
}

}  // namespace

int main() {
  std::vector<std::string> failures;
  try {
    failures = run_all_checks();  // the communicators are gone before MPI is finalised at exit
  } catch (const std::exception& error) {
    std::fprintf(stderr, "mpi_comm_test: rank %d: %s\n", parbench::process_rank(), error.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const int rank = parbench::process_rank();
  for (const auto& f : failures) std::fprintf(stderr, "mpi_comm_test: %s\n", f.c_str());
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) std::printf("mpi_comm_test: %d ranks: %s\n", size, failures.empty() ? "all cases exact" : "FAILED");
  return failures.empty() ? 0 : 1;
}

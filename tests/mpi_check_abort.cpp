// Run under mpiexec -n 2: rank 1 fails a check while rank 0 waits in a barrier. The job must end
// with a non-zero status and the message of rank 1 instead of hanging (expect_mpi_abort.cmake).
#include <mpi.h>

#include "core/check.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int value = 41;
  if (rank == 1) PB_CHECK(value == 42, "value = {}", value);
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}

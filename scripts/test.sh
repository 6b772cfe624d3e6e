#!/usr/bin/env bash
# Sets up and runs the test suite: installs the Debian packages, builds with warnings as errors
# (the "ci" preset), and runs every test through ctest (MPI tests under mpiexec, label "mpi").
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# MPI tests start more ranks than a small machine has cores, and CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
start=$SECONDS
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
echo "test: configured and built in $((SECONDS - start)) s"
ctest --preset ci -j "$(nproc)"  # its last line is the summary, with the time the tests took

#!/usr/bin/env bash
# The tests again under the sanitizers (CI runs both after the release tests):
#   scripts/sanitize.sh asan   # `debug` preset, AddressSanitizer + UBSan: unit and MPI tests
#   scripts/sanitize.sh tsan   # `tsan` preset, ThreadSanitizer: the code that shares memory between
#                              # threads (threaded strategies, communicators, prefetching loader,
#                              # CUDA launch emulation, strategies on the emulated GPU backend) and
#                              # the MPI communicator test
# The SLURM tests stay release-only: they start a whole cluster, run serially, and exercise the
# scripts around parbench more than its code. The benchmark harnesses (and so the sweep and
# report tests, which run them) are not built here: they are timed code, covered by the
# release build, and building them twice more would cost CI minutes for no new coverage.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:?usage: scripts/sanitize.sh asan|tsan}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
suppressions=$PWD/tests/sanitizers
jobs=$(nproc)

case $kind in
  asan)
    preset=debug
    # Leaks: OpenMPI and PMIx keep what MPI_Init allocates until exit, by design (lsan.supp). To
    # match their frames, the leak stacks are unwound without frame pointers (Debian builds them
    # without) and MPI's and PMIx's plugins stay loaded, so their frames keep a module name.
    export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:fast_unwind_on_malloc=0
    export LSAN_OPTIONS=suppressions=$suppressions/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0
    export UBSAN_OPTIONS=suppressions=$suppressions/ubsan.supp:print_stacktrace=1:halt_on_error=1
    export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
    filter=(-LE slurm)
    ;;
  tsan)
    preset=tsan
    export TSAN_OPTIONS="suppressions=$suppressions/tsan.supp:halt_on_error=1:second_deadlock_stack=1"
    # task_graph is left out: oneTBB is not instrumented, so TSan sees neither its task hand-offs
    # nor the stack switches of the tasks it suspends (ShardSum::Wait::suspend), and reports races
    # on stack addresses that no two threads share. Its shared code (ShardSum, the replicas, the
    # reduction) runs under TSan through thread_pool and dp, and task_graph's results are checked
    # bitwise against serial in the release and ASan runs.
    # 'Ddp' also takes GpuMatchesCpu's thread_pool and ddp on cuda_emulated (host threads launching
    # emulated kernels at once, each on its own backend); violence's case is left out: its LSTM
    # costs a minute more under TSan and shares nothing shoplifting's does not.
    filter=(-R 'Threads/|LocalComm|WorldComm|ShardSum|Prefetch|Loader|DpDdp|Ddp|Dp\.|Zero|SyncBatchNorm|Strategies/|CudaEmu|mpi\.comm'
            -E 'task_graph|ThreadPoolAndDdpWithSgd/emulated_violence')
    ;;
  *)
    echo "sanitize: unknown kind '$kind' (asan or tsan)" >&2
    exit 2
    ;;
esac

cmake --preset "$preset" ${CMAKE_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_LAUNCHER}
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs" "${filter[@]}"

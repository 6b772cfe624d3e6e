#!/usr/bin/env bash
# Under mpirun the multi-process strategies take their worker count from the world size (design.md
# §9), and a --workers that says otherwise is refused, in `parbench train` and in bench_strategies:
#   mpi_default_workers.sh PARBENCH BENCH_STRATEGIES MPIEXEC
set -euo pipefail
parbench=$1 bench=$2 mpiexec=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

fail() { echo "FAIL: $*" >&2; exit 1; }

"$parbench" data synth --workload violence --samples 32 --frames 4 --dim 16 --out "$work/v.h5" >/dev/null
train=(train --workload violence --data "$work/v.h5" --steps 2 --batch 8 --loader-threads 0 --quiet)

for strategy in ddp "zero --stage 2"; do
  # shellcheck disable=SC2086  # "zero --stage 2" is two flags
  out=$("$mpiexec" -n 2 "$parbench" "${train[@]}" --strategy $strategy --metrics "$work/m.json" --force 2>&1) ||
    fail "$strategy on 2 ranks without --workers exited with $?: $out"
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["config"]; sys.exit(0 if c["workers"] == 2 and c["processes"] == 2 else 1)' \
    "$work/m.json" || fail "$strategy on 2 ranks without --workers did not run 2 workers: $(head -c 600 "$work/m.json")"
  echo "ok: $strategy on 2 ranks without --workers runs 2 workers"
done

set +e
out=$("$mpiexec" -n 2 "$parbench" "${train[@]}" --strategy ddp --workers 3 2>&1)
status=$?
set -e
[ $status -ne 0 ] || fail "ddp with --workers 3 on 2 ranks exited with 0"
grep -q -- "--workers 3 but the MPI world has 2 ranks" <<<"$out" || fail "no clear message for --workers 3 on 2 ranks: $out"
echo "ok: train --workers 3 on 2 ranks is refused"

bench_args=(--strategies=ddp --batch=8 --peak_gflops=1 --benchmark_min_time=0.01)
out=$("$mpiexec" -n 2 "$bench" "${bench_args[@]}" 2>&1) || fail "bench_strategies ddp on 2 ranks exited with $?: $out"
grep -q "step/violence/ddp/workers:2/batch:8" <<<"$out" || fail "bench_strategies did not run ddp workers:2: $out"
if grep -q "ERROR OCCURRED" <<<"$out"; then fail "bench_strategies ddp workers:2 was skipped: $out"; fi
echo "ok: bench_strategies ddp on 2 ranks without --workers runs workers:2"

set +e
out=$("$mpiexec" -n 2 "$bench" "${bench_args[@]}" --workers=3 2>&1)
status=$?
set -e
[ $status -ne 0 ] || fail "bench_strategies ddp with --workers=3 on 2 ranks exited with 0: $out"
grep -q -- "--workers=3 but the MPI world has 2 ranks" <<<"$out" ||
  fail "no clear message for bench_strategies --workers=3 on 2 ranks: $out"
echo "ok: bench_strategies --workers=3 on 2 ranks is refused"

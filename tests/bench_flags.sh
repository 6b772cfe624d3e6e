#!/usr/bin/env bash
# The benchmark harnesses' own flags: a value out of range (or not a number, or not a backend)
# exits non-zero before any benchmark runs, with a message naming the flag and its range.
#   bench_flags.sh BENCH_DIR
set -euo pipefail
dir=$1

fail() { echo "FAIL: $*" >&2; exit 1; }

# harness, flag=value, what the message must say
cases=(
  "bench_strategies --workers=0 --workers=0: must be a comma-separated list of integers, each at least 1"
  "bench_strategies --workers=2,-1 --workers=2,-1: must be a comma-separated list of integers, each at least 1"
  "bench_strategies --batch=0 --batch=0: must be a comma-separated list of integers, each at least 1"
  "bench_strategies --batch=abc --batch=abc: must be a comma-separated list of integers, each at least 1"
  "bench_strategies --stage=0 --stage=0: must be an integer in [1, 3]"
  "bench_strategies --sync_bn=2 --sync_bn=2: must be an integer in [0, 1]"
  "bench_strategies --overlap=x --overlap=x: must be an integer in [0, 1]"
  "bench_strategies --bucket_mb=nan --bucket_mb=nan: must be a finite number > 0"
  "bench_strategies --bucket_mb=0 --bucket_mb=0: must be a finite number > 0"
  "bench_strategies --peak_gflops=-1 --peak_gflops=-1: must be a finite number >= 0"
  "bench_strategies --peak_reps=0 --peak_reps=0: must be an integer, at least 1"
  "bench_loader --samples=0 --samples=0: must be an integer, at least 1"
  "bench_loader --batch=0 --batch=0: must be an integer in [1, 256]"
  "bench_loader --batch=1000 --batch=1000: must be an integer in [1, 256]"
  "bench_collectives --ranks=0 --ranks=0: must be an integer in [1, 64]"
  "bench_collectives --ranks=2x --ranks=2x: must be an integer in [1, 64]"
  "bench_collectives --max_bytes=2 --max_bytes=2: must be an integer, at least 4"
  "bench_collectives --inject_error=5 --inject_error=5: must be an integer in [0, 1]"
  "bench_kernels --peak_reps=0 --peak_reps=0: must be an integer, at least 1"
  "bench_step --peak_reps=-3 --peak_reps=-3: must be an integer, at least 1"
  "bench_step --backend=bogus --backend=bogus: must be one of cpu, cuda, cuda_emulated"
  "bench_kernels --backend=gpu --backend=gpu: must be one of cpu, cuda, cuda_emulated"
  "bench_strategies --backend=CUDA --backend=CUDA: must be one of cpu, cuda, cuda_emulated"
)
for case in "${cases[@]}"; do
  read -r harness flag expected <<<"$case"
  [ -x "$dir/$harness" ] || { echo "skip: $harness not built"; continue; }
  set +e
  out=$(timeout 60 "$dir/$harness" "$flag" --benchmark_filter=NONE 2>&1)
  status=$?
  set -e
  [ $status -ne 0 ] || fail "$harness $flag exited with 0: $out"
  grep -qF -- "$harness: $expected" <<<"$out" || fail "$harness $flag: the message lacks '$harness: $expected': $out"
  echo "ok: $harness $flag -> status $status"
done

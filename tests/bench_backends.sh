#!/usr/bin/env bash
# The harnesses' --backend with the real binaries: a backend that cannot start here (cuda in a build
# without it, or without a GPU) is no crash and no silent gap: every benchmark is in the JSON with
# error_occurred and the reason, the harness exits 0, and `parbench sweep --backend cuda` lists
# each run as skipped, reports them, and fails because it measured nothing. cuda_emulated (the CUDA
# kernels on the CPU) runs and reports GFLOP/s. Where a GPU is usable, the cuda checks are skipped.
#   tests/bench_backends.sh PARBENCH BENCH_DIR
set -euo pipefail
parbench=$1
bench=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "bench_backends: FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" "$1" || fail "$1 does not contain: $2"; }

# cuda_emulated: one small GEMM, timed through the emulated stream, with its rate.
"$bench/bench_kernels" --backend=cuda_emulated --peak_reps=1 --benchmark_min_time=0.01 \
  --benchmark_filter='gemm/violence_dense/m:64/n:256/k:256/threads:1/' \
  --benchmark_out="$dir/emulated.json" --benchmark_out_format=json > "$dir/emulated.log" 2>&1 ||
  { cat "$dir/emulated.log"; fail "bench_kernels --backend=cuda_emulated exited $?"; }
python3 - "$dir/emulated.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
assert run["context"]["backend"] == "cuda_emulated", run["context"]
assert run["context"]["backend_description"].startswith("cuda_emulated:"), run["context"]
assert float(run["context"]["gemm_peak_gflops_1core"]) > 0, run["context"]
benchmarks = run["benchmarks"]
assert len(benchmarks) == 1, [b["name"] for b in benchmarks]
b = benchmarks[0]
assert not b.get("error_occurred", False), b
assert b["gflops"] > 0 and b["pct_peak"] > 0, b
PY
echo "ok: bench_kernels --backend=cuda_emulated reports gflops"

# cuda: skipped with the reason, unless this machine can run it.
"$bench/bench_step" --backend=cuda --peak_reps=1 --benchmark_min_time=0.01 \
  --benchmark_filter='step/shoplifting/serial/threads:1/batch:32/' \
  --benchmark_out="$dir/cuda.json" --benchmark_out_format=json > "$dir/cuda.log" 2>&1 ||
  { cat "$dir/cuda.log"; fail "bench_step --backend=cuda exited $? (a backend that cannot start must not fail the harness)"; }
if python3 -c 'import json, sys; sys.exit("backend_description" in json.load(open(sys.argv[1]))["context"])' \
     "$dir/cuda.json"; then
  python3 - "$dir/cuda.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
reason = run["context"]["backend_error"]
assert "was not built" in reason or "no usable GPU" in reason, reason
assert run["benchmarks"], "no benchmark in the JSON"
for b in run["benchmarks"]:
    assert b["error_occurred"] is True and b["error_message"] == reason, b
PY
  echo "ok: bench_step --backend=cuda skips every benchmark with the reason"

  # bench_strategies: the same reason for every configuration, serial and the others alike.
  "$bench/bench_strategies" --backend=cuda --workload=shoplifting --batch=4 --workers=1,2 \
    --strategies=serial,thread_pool --benchmark_out="$dir/strategies.json" --benchmark_out_format=json \
    > "$dir/strategies.log" 2>&1 || { cat "$dir/strategies.log"; fail "bench_strategies --backend=cuda exited $?"; }
  python3 - "$dir/strategies.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
names = sorted(b["name"] for b in run["benchmarks"])
assert len(names) == 4, names
for b in run["benchmarks"]:
    assert b["error_occurred"] is True and b["error_message"] == run["context"]["backend_error"], b
PY
  echo "ok: bench_strategies --backend=cuda skips every configuration with the reason"

  # The sweep: every run listed as skipped with the reason, in the console and the report, and a
  # failed exit because no step was measured.
  set +e
  "$parbench" sweep --backend cuda --workloads shoplifting --batch 4 --strategies serial,thread_pool --workers 1,2 \
    --no-collectives --repetitions 1 --min-time 0.01 --no-plots --out "$dir/run" > "$dir/sweep.log" 2>&1
  status=$?
  set -e
  [ $status -eq 1 ] || { cat "$dir/sweep.log"; fail "a sweep that measured nothing exited $status, not 1"; }
  [ "$(grep -c "skipped: backend 'cuda'" "$dir/sweep.log")" -eq 4 ] || { cat "$dir/sweep.log"; fail "not 4 skipped runs"; }
  contains "$dir/sweep.log" "4 run(s) in"
  contains "$dir/sweep.log" ": 0 measured, 4 skipped, 0 failed; no step was measured"
  contains "$dir/run/report.md" "backend 'cuda'"
  python3 - "$dir/run/scaling.json" <<'PY'
import json, sys
scaling = json.load(open(sys.argv[1]))
assert len(scaling["skipped"]) == 4, scaling["skipped"]
assert all("backend 'cuda'" in s["reason"] for s in scaling["skipped"]), scaling["skipped"]
PY
  echo "ok: parbench sweep --backend cuda lists every run as skipped and exits 1"
else
  echo "skip: the cuda backend starts here (a GPU); its skip checks do not apply"
fi

# An unknown backend is a usage error naming the valid ones, in the sweep as in the harnesses
# (bench_flags.sh).
if "$parbench" sweep --backend bogus --plan > "$dir/bogus.log" 2>&1; then fail "sweep --backend bogus exited 0"; fi
contains "$dir/bogus.log" "--backend: unknown backend \"bogus\"; valid: cpu, cuda, cuda_emulated"
echo "bench_backends: ok"

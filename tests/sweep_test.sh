#!/usr/bin/env bash
# `parbench sweep` end to end with the real harnesses: thread and MPI strategies (ddp under
# mpirun, 4 ranks oversubscribed), a configuration that cannot run (SkipWithError), the plan, and
# the report over the run folder; then a harness that crashes, which must not end the sweep but
# fail it, with the reason in the report; then one that leaves half a JSON file.
#   tests/sweep_test.sh PARBENCH
set -euo pipefail
parbench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "sweep_test: FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" "$1" || fail "$1 does not contain: $2"; }

# Batch 4: thread_pool and ddp at 4 workers leave BatchNorm one row per worker (skipped, reported);
# serial at 4 is 4 intra-op threads over the batch (runs).
# shellcheck disable=SC2054  # commas separate the values of one flag
args=(--workloads shoplifting --batch 4 --strategies serial,thread_pool,ddp --workers 1,2,4 --repetitions 2
      --min-time 0.01 --max-mib 1 --no-plots)

"$parbench" sweep "${args[@]}" --plan --out "$dir/run" > "$dir/plan.json"
python3 - "$dir/plan.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
titles = [r["title"] for r in runs]
assert len(runs) == 11, titles  # 3 strategies x 3 worker counts + collectives at 2 and 4 ranks
assert titles[0] == "shoplifting serial workers:1", titles
ddp4 = next(r for r in runs if r["title"] == "shoplifting ddp workers:4")
assert ddp4["processes"] == 4 and ddp4["command"][1:3] == ["-np", "4"], ddp4
PY

"$parbench" sweep "${args[@]}" --out "$dir/run" > "$dir/sweep.log" 2>&1 || { cat "$dir/sweep.log"; fail "sweep exited $?"; }
contains "$dir/sweep.log" "[ 11/11] collectives mpi ranks:4"
contains "$dir/sweep.log" "11 run(s)"
contains "$dir/sweep.log" "per step (median of 2)"
contains "$dir/sweep.log" "skipped: BatchNorm needs 2 rows per worker"
for f in step-shoplifting-serial-w4.json step-shoplifting-ddp-w2.json collectives-mpi-r4.json report.md scaling.json; do
  [[ -s $dir/run/$f ]] || fail "missing $dir/run/$f"
done
contains "$dir/run/report.md" "BatchNorm needs 2 rows per worker, and a global batch of 4 over 4 workers gives 1"
python3 - "$dir/run/scaling.json" <<'PY'
import json, sys
scaling = json.load(open(sys.argv[1]))
assert scaling["schema"] == "parbench.scaling/1"
series = {s["strategy"]: s for s in scaling["series"]}
assert set(series) == {"serial", "thread_pool", "ddp"}, series.keys()
ddp = {p["workers"]: p for p in series["ddp"]["points"]}
assert ddp[2]["speedup"] is not None and ddp[2]["step_ms"]["median"] > 0, ddp[2]
assert ddp[4]["error"] and "BatchNorm needs 2 rows" in ddp[4]["error"], ddp[4]
assert any(c["comm"] == "mpi_raw" for c in scaling["collectives"]), "no raw MPI_Allreduce reference"
PY
# A finished run folder is not overwritten without --force.
if "$parbench" sweep "${args[@]}" --out "$dir/run" > "$dir/again.log" 2>&1; then fail "reused a run folder"; fi
contains "$dir/again.log" "already holds a sweep"

# A harness that crashes: the sweep goes on, exits 1, and the report names the reason.
mkdir "$dir/broken"
for harness in bench_strategies bench_collectives; do
  printf '#!/bin/sh\necho "%s: simulated crash" >&2\nexit 3\n' "$harness" > "$dir/broken/$harness"
  chmod +x "$dir/broken/$harness"
done
if "$parbench" sweep --workloads shoplifting --strategies serial,thread_pool --workers 1 --no-collectives \
     --bench-dir "$dir/broken" --out "$dir/crashed" --no-plots > "$dir/crash.log" 2>&1; then
  fail "a sweep with crashed runs exited 0"
fi
contains "$dir/crash.log" "FAILED: exit status 3: bench_strategies: simulated crash"
contains "$dir/crash.log" "2 run(s)"
contains "$dir/crashed/report.md" "exit status 3: bench_strategies: simulated crash"
# A harness that exits 0 after writing half a file: a failure with the reason, and no partial
# file left in the run folder.
mkdir "$dir/truncating"
cat > "$dir/truncating/bench_strategies" <<'SH'
#!/bin/sh
for arg in "$@"; do
  case $arg in --benchmark_out=*) printf '{"context": {}, "benchmarks": [{"name": "step/' > "${arg#--benchmark_out=}" ;; esac
done
SH
cp "$dir/broken/bench_collectives" "$dir/truncating/"
chmod +x "$dir/truncating/bench_strategies"
if "$parbench" sweep --workloads shoplifting --strategies serial --workers 1 --no-collectives \
     --bench-dir "$dir/truncating" --out "$dir/truncated" --no-plots > "$dir/truncated.log" 2>&1; then
  fail "a sweep whose harness wrote half a file exited 0"
fi
contains "$dir/truncated.log" "not valid JSON"
contains "$dir/truncated/report.md" "not valid JSON"  # the report ran, and lists the run as failed
for left in "$dir"/truncated/*.tmp.*; do
  [ -e "$left" ] && fail "a partial file was left: $left"
done
echo "sweep_test: ok"

#!/usr/bin/env bash
# slurm/submit.py on a real one-node SLURM cluster (slurm/local-cluster.sh): a small CPU sweep
# (both workloads, serial and ddp, workers 1 and 2, the collectives) as job arrays plus the
# dependent report job, waited for; the report must have every row. Then one configuration through
# slurm/bench.sbatch with a GPU per task. Then a sweep whose data file does not exist: its array
# element fails with the harness's message, the report job never runs, and the submitter says so
# and exits 1.
#   slurm_sweep.sh PARBENCH SOURCE_DIR
# Exit 77 (skipped) when the SLURM packages are not installed; any other failure fails.
set -euo pipefail
parbench=$(realpath "$1") source_dir=$(realpath "$2")
# shellcheck source=tests/slurm_test_lib.sh
source "$(dirname "$0")/slurm_test_lib.sh"
local_cluster_test "$source_dir" /tmp/parbench-slurm-sweep 6927
contains() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 does not contain: $2"; }; }
cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
submit=(/usr/bin/python3 "$source_dir/slurm/submit.py" --parbench "$parbench" --runs "$work/runs" --time 00:10:00
        --wait --timeout 300)

# The sweep: 4 arrays (1 and 2 threads, 1 and 2 ranks) and the report after them.
"${submit[@]}" -- --workloads violence,shoplifting --batch violence=8,shoplifting=32 --strategies serial,ddp \
  --workers 1,2 --repetitions 2 --min-time 0.05 --max-mib 1 > "$work/submit.log" 2>&1 ||
  { cat "$work/submit.log" >&2; fail "the sweep's submission or one of its jobs failed"; }
cat "$work/submit.log"
run_dir=$(sed -n 's|^results: \(.*\)/ (report.md.*|\1|p' "$work/submit.log")
if [ -z "$run_dir" ] || [ ! -s "$run_dir/report.md" ]; then fail "no report.md in '$run_dir'"; fi
contains "$work/submit.log" "report written: $run_dir/report.md"
for workload in violence shoplifting; do
  for strategy in serial ddp; do
    for workers in 1 2; do
      [ -s "$run_dir/step-$workload-$strategy-w$workers.json" ] || fail "no result for $workload $strategy $workers"
    done
  done
done
/usr/bin/python3 - "$run_dir/scaling.json" "$run_dir/step-violence-ddp-w2.json" <<'PY'
import json, sys
scaling = json.load(open(sys.argv[1]))
rows = {(s["workload"], s["strategy"], p["workers"]) for s in scaling["series"] for p in s["points"] if p["step_ms"]["median"]}
expected = {(w, s, n) for w in ("violence", "shoplifting") for s in ("serial", "ddp") for n in (1, 2)}
assert rows == expected, sorted(rows)
assert any(c["comm"] == "mpi" and c["ranks"] == 2 for c in scaling["collectives"]), scaling["collectives"]
# The run context names the SLURM job that measured it.
context = json.load(open(sys.argv[2]))["context"]
slurm = json.loads(context["slurm"])
assert slurm and slurm.get("job_id"), context["slurm"]
PY
contains "$run_dir/report.md" "| ddp | 2 |"

# One configuration through slurm/bench.sbatch on a GPU-shaped allocation (fake GPUs, CPU backend):
# the ranks' results, their collectives and the report land in results/runs/<job id>/.
job=$(PARBENCH=$parbench WORKLOAD=shoplifting STRATEGY=ddp \
      SWEEP_ARGS="--batch 32 --repetitions 1 --min-time 0.05 --max-mib 1 --no-plots" \
      sbatch --parsable --wait --ntasks=2 --gpus-per-task=1 "$source_dir/slurm/bench.sbatch") ||
  { cat "$work"/parbench-bench-*.out >&2; fail "slurm/bench.sbatch failed"; }
contains "$work/results/runs/$job/report.md" "| ddp | 2 |"
contains "$work/results/runs/$job/step-shoplifting-ddp-w2.json" '"cuda_visible_devices'
[ -s "$work/results/runs/$job/collectives-mpi-r2.json" ] || fail "bench.sbatch measured no collectives"

# A sweep over a data file that does not exist: the element fails, the report job does not run.
if "${submit[@]}" -- --workloads shoplifting --data "$work/missing.h5" --strategies serial --workers 1 \
     --no-collectives > "$work/failed.log" 2>&1; then
  cat "$work/failed.log" >&2
  fail "a sweep whose job failed was reported as a success"
fi
cat "$work/failed.log"
contains "$work/failed.log" "it did not run because array elements failed"
contains "$work/failed.log" "$work/missing.h5: no such file"
echo "slurm_sweep: ok"

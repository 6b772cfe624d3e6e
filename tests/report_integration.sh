#!/usr/bin/env bash
# `parbench report` on JSON the real harnesses write: a small collective sweep, two strategies at
# 1, 2 and 16 workers (16 > the batch of 8: thread_pool must be skipped with SkipWithError's reason)
# and one gemm from bench_kernels (not a strategy or collective benchmark: skipped with that reason).
#   report_integration.sh PARBENCH BENCH_COLLECTIVES BENCH_STRATEGIES BENCH_KERNELS
# With a Python that has matplotlib the plots are rendered and checked too.
set -euo pipefail
parbench=$1 collectives=$2 strategies=$3 kernels=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=$work/runs
mkdir -p "$runs"

fail() { echo "FAIL: $*" >&2; exit 1; }
contains() { grep -qF -- "$2" "$1" || fail "$1 does not contain: $2"; }

"$collectives" --ranks=2 --max_bytes=4096 --benchmark_min_time=0.01 \
  --benchmark_out="$runs/c.json" --benchmark_out_format=json >/dev/null
"$strategies" --workload=shoplifting --batch=8 --strategies=serial,thread_pool --workers=1,2,16 \
  --benchmark_min_time=0.01 --benchmark_out="$runs/s.json" --benchmark_out_format=json >/dev/null
"$kernels" --benchmark_filter='^gemm/lstm23_input_projection/.*/threads:1/' --benchmark_min_time=0.001 \
  --benchmark_out="$runs/k.json" --benchmark_out_format=json >/dev/null

"$parbench" report "$runs" --no-plots | tee "$work/summary.txt"
contains "$work/summary.txt" "read 3 file(s): 2 strategy series (6 points), 4 collective series"
md=$runs/report.md
for f in report.md scaling.json scaling.csv collectives.csv; do [[ -s $runs/$f ]] || fail "$f was not written"; done
contains "$md" "| serial | 1 |"
contains "$md" "| thread_pool | 2 |"
contains "$md" "| thread_pool | 16 | skipped: more workers (16) than samples in the global batch (8) |"
contains "$md" "not a strategy or collective benchmark"
contains "$md" "### all_reduce"
contains "$md" "| 4 KiB |"
contains "$runs/scaling.json" '"schema": "parbench.scaling/1"'
contains "$runs/scaling.json" '"error": "more workers (16) than samples in the global batch (8)"'
[[ $(wc -l <"$runs/scaling.csv") -eq 7 ]] || fail "scaling.csv: expected a header and 6 points"

# Existing outputs are refused, naming them; --force replaces them.
if "$parbench" report "$runs" --no-plots >"$work/again.txt" 2>&1; then fail "a second report overwrote the first"; fi
contains "$work/again.txt" "report.md"
contains "$work/again.txt" "refusing to overwrite"
"$parbench" report "$runs" --no-plots --force >/dev/null

for python in "${PARBENCH_PYTHON:-python3}" /usr/bin/python3; do
  if "$python" -c 'import matplotlib' 2>/dev/null; then
    "$parbench" report "$runs" --out "$work/plotted" >/dev/null
    for plot in speedup_shoplifting efficiency_shoplifting breakdown_shoplifting memory_shoplifting busbw; do
      [[ -s $work/plotted/plots/$plot.png && -s $work/plotted/plots/$plot.svg ]] || fail "plot $plot was not written"
    done
    contains "$work/plotted/report.md" "![speedup_shoplifting](plots/speedup_shoplifting.png)"
    break
  fi
done
echo "report integration: ok"

#!/usr/bin/env bash
# The CI performance gate: a short sweep (about a minute) compared with the baseline committed in
# results/baselines/ci by `parbench compare`, which exits 1 when a step got slower than the
# threshold with significance (Mann-Whitney U over the repetitions).
#   scripts/gate.sh                      # sweep + compare (threshold 100%: only real breakage fails)
#   GATE_THRESHOLD=10 scripts/gate.sh    # a tighter gate, for a quiet machine of your own
#   scripts/gate.sh --update-baseline    # replace the baseline with a sweep of this machine
# CI shares noisy 2-core machines: step times move by 10-20% between runs there, hence the wide
# default. Only the training steps are gated; the collectives' microsecond latencies are reported
# but vary too much on a shared machine to fail a build on.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build/ci}
baseline=results/baselines/ci
threshold=${GATE_THRESHOLD:-100}
parbench="$build/cli/parbench"
[[ -x $parbench ]] || { echo "gate: $parbench not built; run scripts/test.sh first" >&2; exit 1; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# shellcheck disable=SC2054  # commas separate the values of one flag
sweep=(sweep --workloads violence,shoplifting --batch violence=16,shoplifting=64
       --strategies serial,thread_pool,ddp,zero2 --workers 1,2 --repetitions 5 --min-time 0.1 --max-mib 4
       --no-plots)

if [[ ${1:-} == --update-baseline ]]; then
  rm -rf "$baseline"
  "$parbench" "${sweep[@]}" --out "$baseline"
  rm -rf "$baseline/logs"
  echo "gate: new baseline in $baseline; commit it with the change that explains it"
  exit 0
fi

out=$(mktemp -d)/gate
"$parbench" "${sweep[@]}" --out "$out"
"$parbench" compare "$baseline" "$out" --threshold "$threshold" --filter '^step/' --markdown "$out/compare.md"

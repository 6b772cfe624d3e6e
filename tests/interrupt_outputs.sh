#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM sent to a real parbench while it writes: `data synth`, `data import`,
# `report`, a checkpoint and train's metrics must leave no FILE.tmp.<pid> and create no destination,
# and exit with 128 + the signal (130, 143). `train --checkpoint` keeps its preemption: SIGTERM
# during a checkpoint write lets the write finish, then the run stops, checkpoints and exits 75.
#   interrupt_outputs.sh PARBENCH          the writers above
#   interrupt_outputs.sh PARBENCH sweep    `parbench sweep` (needs the harnesses): SIGINT to the
#       sweep alone while a harness writes its JSON: the harness is stopped, its partial JSON removed
# A checkpoint or a report is written in milliseconds: PARBENCH_TEST_HOLD_OUTPUT=S makes the first
# output of the process wait, complete under its temporary name, for a signal (at most S seconds).
set -euo pipefail
# shellcheck source=tests/npy_test_lib.sh
source "$(dirname "$0")/npy_test_lib.sh"
parbench=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Job control: a shell without it starts background commands with SIGINT ignored.
set -m

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Starts the command in the background, waits until it writes `destination`'s temporary, sends
# `signal` and checks the exit status, the message and that nothing is left behind.
interrupt_while_writing() {
  local what=$1 destination=$2 signal=$3 expected=$4 status=0
  shift 4
  "$@" >"$work/out.txt" 2>&1 &
  local pid=$!
  local temporary=$destination.tmp.$pid
  for _ in $(seq 1200); do
    [ -e "$temporary" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  if [ ! -e "$temporary" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" || true
    fail "$what: $temporary never appeared: $(cat "$work/out.txt")"
  fi
  kill -s "$signal" "$pid"
  wait "$pid" || status=$?
  [ "$status" -eq "$expected" ] || fail "$what: exit status $status after SIG$signal, not $expected: $(cat "$work/out.txt")"
  local left
  left=$(find "$(dirname "$destination")" -name '*.tmp.*')
  [ -z "$left" ] || fail "$what: temporary file(s) left after SIG$signal: $left"
  echo "ok: $what: SIG$signal mid-write, exit $status, nothing left"
}

expect_interrupted() {
  local what=$1 destination=$2 signal=$3
  [ ! -e "$destination" ] || fail "$what: $destination was created although SIG$signal stopped the write"
  grep -q "^parbench: interrupted by SIG$signal" "$work/out.txt" ||
    fail "$what: no 'interrupted by SIG$signal' message: $(cat "$work/out.txt")"
}

if [ "${2:-}" = sweep ]; then
  interrupt_while_writing "sweep" "$work/run/step-shoplifting-serial-w1.json" INT 130 \
    "$parbench" sweep --workloads shoplifting --batch 4 --strategies serial --workers 1,2 --repetitions 3 \
    --min-time 1 --no-plots --out "$work/run"
  expect_interrupted "sweep" "$work/run/step-shoplifting-serial-w1.json" INT
  sleep 1  # a harness left running would write its JSON in this second
  left=$(find "$work/run" -name '*.json*' ! -name plan.json)
  [ -z "$left" ] || fail "sweep: files left after SIGINT: $left"
  exit 0
fi

# data synth: 1000 samples of 20 x 4096, gzip 9: tens of seconds of work, stopped in its first second.
synth=("$parbench" data synth --workload violence --samples 1000 --compression 9)
interrupt_while_writing "data synth" "$work/s.h5" INT 130 "${synth[@]}" --out "$work/s.h5"
expect_interrupted "data synth" "$work/s.h5" INT
interrupt_while_writing "data synth" "$work/s.h5" TERM 143 "${synth[@]}" --out "$work/s.h5"
expect_interrupted "data synth" "$work/s.h5" TERM

# data import from .npy files written here (no numpy needed): 2000 x 20 x 512 float32 of random
# finite values (every byte below 0x80 keeps the exponent below 255), labels 0, gzip 9.
write_npy "$work/features.npy" '<f4' '(2000, 20, 512)' $((2000 * 20 * 512 * 4))
write_npy "$work/labels.npy" '<i4' '(2000,)' 0
head -c $((2000 * 4)) /dev/zero >>"$work/labels.npy"
import=("$parbench" data import --workload violence --features "$work/features.npy" --labels "$work/labels.npy"
        --compression 9 --chunk-samples 1)
interrupt_while_writing "data import" "$work/i.h5" INT 130 "${import[@]}" --out "$work/i.h5"
expect_interrupted "data import" "$work/i.h5" INT
interrupt_while_writing "data import" "$work/i.h5" TERM 143 "${import[@]}" --out "$work/i.h5"
expect_interrupted "data import" "$work/i.h5" TERM

# report: one Google Benchmark file; the four tables are held under their temporary names.
mkdir "$work/bench" "$work/report"
cat >"$work/bench/run.json" <<'EOF'
{"context": {"host": "node1"}, "benchmarks": [
 {"name": "step/violence/serial/workers:1/batch:64", "run_name": "step/violence/serial/workers:1/batch:64",
  "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "iterations": 10,
  "real_time": 200, "cpu_time": 200, "time_unit": "ms"}]}
EOF
export PARBENCH_TEST_HOLD_OUTPUT=30
report=("$parbench" report "$work/bench/run.json" --out "$work/report" --no-plots)
interrupt_while_writing "report" "$work/report/scaling.json" INT 130 "${report[@]}"
expect_interrupted "report" "$work/report/scaling.json" INT
[ -z "$(ls "$work/report")" ] || fail "report: files left in the output folder: $(ls "$work/report")"
interrupt_while_writing "report" "$work/report/report.md" TERM 143 "${report[@]}"
expect_interrupted "report" "$work/report/report.md" TERM
[ -z "$(ls "$work/report")" ] || fail "report: files left in the output folder: $(ls "$work/report")"

# Training: 96 training rows in batches of 16, 6 steps per epoch; the first epoch's checkpoint is
# held. SIGINT during that write: no checkpoint, exit 130.
"$parbench" data synth --workload violence --samples 120 --frames 4 --dim 32 --out "$work/v.h5" --split train,val \
  >/dev/null
train=("$parbench" train --workload violence --data "$work/v.h5" --batch 16 --loader-threads 0 --quiet)
interrupt_while_writing "checkpoint" "$work/c.h5" INT 130 "${train[@]}" --steps 300 --checkpoint "$work/c.h5"
expect_interrupted "checkpoint" "$work/c.h5" INT

# SIGTERM during the same write is a preemption: the write completes, the run stops after its
# next step, writes the checkpoint again and exits 75.
interrupt_while_writing "checkpoint (preemption)" "$work/c.h5" TERM 75 "${train[@]}" --steps 300 --checkpoint "$work/c.h5"
[ -f "$work/c.h5" ] || fail "checkpoint (preemption): no checkpoint after the preemption"
grep -q "^parbench: preempted at step" "$work/out.txt" || fail "checkpoint (preemption): $(cat "$work/out.txt")"
rm -f "$work/c.h5"

# Without --checkpoint SIGTERM interrupts; the metrics file written at the end is held.
interrupt_while_writing "train metrics" "$work/m.json" TERM 143 "${train[@]}" --steps 12 --metrics "$work/m.json"
expect_interrupted "train metrics" "$work/m.json" TERM

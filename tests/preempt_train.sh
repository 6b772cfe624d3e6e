#!/usr/bin/env bash
# Preemption through the command line: `parbench train --checkpoint` stops on SIGUSR1 after the
# current step, writes the checkpoint, says so and exits with status 75; `--resume` from that
# checkpoint ends with the parameters of a run that was never stopped (checkpoint_diff, exact).
#   preempt_train.sh PARBENCH CHECKPOINT_DIFF signal          serial, a real SIGUSR1 mid-run
#   preempt_train.sh PARBENCH CHECKPOINT_DIFF mpi MPIEXEC     ddp on 2 ranks: SIGUSR1 to mpiexec (it
#       forwards it to every rank), and the test hook PARBENCH_TEST_PREEMPT_AT_STEP on rank 1 only,
#       which rank 0 must follow at the same step.
set -euo pipefail
parbench=$1 diff=$2 mode=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

readonly preempted_status=75
fail() { echo "FAIL: $*" >&2; exit 1; }

# 96 training rows in batches of 16: 6 steps per epoch; a constant learning rate so that the
# length of the run does not change the steps.
"$parbench" data synth --workload violence --samples 120 --frames 4 --dim 32 --out "$work/v.h5" --split train,val \
  >/dev/null
common=(--workload violence --data "$work/v.h5" --batch 16 --lr-schedule constant --loader-threads 0 --quiet
        --deterministic)

# Runs the command in the background, sends SIGUSR1 to it once the first epoch's checkpoint exists
# (so training is under way and the handler installed), and checks the preempted exit.
preempt_with_signal() {
  local checkpoint=$1 status=0
  shift
  "$@" >"$work/out.txt" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    [ -f "$checkpoint" ] && break
    sleep 0.05
  done
  [ -f "$checkpoint" ] || { kill "$pid"; fail "no first-epoch checkpoint after 30 s: $(cat "$work/out.txt")"; }
  kill -USR1 "$pid"
  wait "$pid" || status=$?
  check_preempted "$status" "$checkpoint"
}

check_preempted() {
  local status=$1 checkpoint=$2
  [ "$status" -eq $preempted_status ] || fail "exit status $status, not $preempted_status: $(cat "$work/out.txt")"
  grep -q "^parbench: preempted at step [0-9]* (epoch [0-9]*); checkpoint written to $checkpoint\$" "$work/out.txt" ||
    fail "no preemption message: $(cat "$work/out.txt")"
  [ "$(grep -c '^parbench: preempted' "$work/out.txt")" -eq 1 ] ||
    fail "the message is not printed once: $(cat "$work/out.txt")"
  echo "ok: $(grep '^parbench: preempted' "$work/out.txt")"
}

# Resumes (the checkpoint is also the output) and compares with the straight run's checkpoint.
resume_and_compare() {
  local checkpoint=$1 straight=$2
  shift 2
  "$@" --resume "$checkpoint" --checkpoint "$checkpoint" >/dev/null || fail "the resumed run exited with $?"
  "$diff" "$checkpoint" "$straight" 0 || fail "preempted + resumed differs from the straight run"
  echo "ok: preempted and resumed equals the straight run"
}

case $mode in
signal)
  run=("$parbench" train "${common[@]}" --strategy serial --steps 300)
  "${run[@]}" --checkpoint "$work/straight.h5" >/dev/null
  preempt_with_signal "$work/run.h5" "${run[@]}" --checkpoint "$work/run.h5"
  resume_and_compare "$work/run.h5" "$work/straight.h5" "${run[@]}"
  ;;
mpi)
  mpiexec=$4
  ddp=(train "${common[@]}" --strategy ddp --workers 2 --steps 300)
  "$mpiexec" -n 2 "$parbench" "${ddp[@]}" --checkpoint "$work/straight.h5" >/dev/null

  preempt_with_signal "$work/run.h5" "$mpiexec" -n 2 "$parbench" "${ddp[@]}" --checkpoint "$work/run.h5"
  resume_and_compare "$work/run.h5" "$work/straight.h5" "$mpiexec" -n 2 "$parbench" "${ddp[@]}"

  # Only rank 1 is told to stop (after step 8, inside the second epoch): both ranks must stop there.
  rm -f "$work/run.h5"
  status=0
  "$mpiexec" -n 1 "$parbench" "${ddp[@]}" --checkpoint "$work/run.h5" : \
    -n 1 -x PARBENCH_TEST_PREEMPT_AT_STEP=8 "$parbench" "${ddp[@]}" --checkpoint "$work/run.h5" \
    >"$work/out.txt" 2>&1 || status=$?
  check_preempted "$status" "$work/run.h5"
  grep -q "preempted at step 8 (epoch 2)" "$work/out.txt" ||
    fail "rank 0 did not stop at rank 1's step 8: $(cat "$work/out.txt")"
  resume_and_compare "$work/run.h5" "$work/straight.h5" "$mpiexec" -n 2 "$parbench" "${ddp[@]}"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac

#!/usr/bin/env bash
# End-to-end tests of the multi-process strategies through the command line, on real MPI ranks
# (mpiexec), a real HDF5 dataset and real checkpoints:
#   mpi_train.sh PARBENCH CHECKPOINT_DIFF MPIEXEC equivalence STRATEGY-ARGS... : N = 1..4 ranks
#       train 3 steps; the checkpoint (parameters, buffers, Adam state) equals `serial`'s within
#       1e-3 relative (checkpoint_diff);
#   mpi_train.sh PARBENCH CHECKPOINT_DIFF MPIEXEC resume : a checkpoint written by zero stage 3 on
#       2 ranks resumes under thread_pool with 3 workers, and one written by thread_pool resumes
#       under ddp on 3 ranks; both continue as a straight serial run does;
#   mpi_train.sh PARBENCH CHECKPOINT_DIFF MPIEXEC cuda_emulated : serial, and ddp on 2 ranks over the
#       mpi communicator, on the emulated GPU backend end within 1e-3 of serial on cpu after 3 steps
#       (checkpoints); the GPU options are clear errors where they cannot apply;
#   mpi_train.sh PARBENCH CHECKPOINT_DIFF MPIEXEC faults : a rank that cannot read its data ends the whole job
#       quickly with its message; --workers that differs from the world size is a clear error.
set -euo pipefail
parbench=$1 diff=$2 mpiexec=$3 mode=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

fail() { echo "FAIL: $*" >&2; exit 1; }

# A resumed run's metrics: 39 training rows make 3 batches of 11 per epoch, so a run resumed after
# step 2 runs one step of epoch 1 and one of epoch 2 (a fresh 4-step run would run 3, then 1).
started_after_step_2() {
  python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["epochs"]; sys.exit(0 if [r["steps_this_epoch"] for r in e] == [1, 1] else 1)' "$1" ||
    fail "the resumed run did not continue from step 2: $(cat "$1" | head -c 300)"
}

"$parbench" data synth --workload violence --samples 48 --frames 4 --dim 32 --out "$work/v.h5" --split train,val >/dev/null
"$parbench" data synth --workload shoplifting --samples 48 --frames 4 --out "$work/s.h5" --split train,val >/dev/null

# Adam, dropout on, clipping, synchronised BatchNorm, a batch of 11 (uneven over 2, 3 and 4 ranks).
# Adam's epsilon is raised from 1e-7 to 1e-3: with a tiny epsilon, a parameter whose gradient is
# rounding noise (~1e-9) moves by +-lr whatever its sign, so any change of summation order would
# show as a difference of 2 lr; the in-process equivalence tests do the same.
common=(--steps 3 --batch 11 --sync-bn --lr 0.01 --adam-eps 1e-3 --warmup-steps 1 --loader-threads 0 --quiet
        --no-shuffle)

case $mode in
equivalence)
  for workload in violence shoplifting; do
    data=$work/${workload:0:1}.h5
    "$parbench" train --workload "$workload" --data "$data" --strategy serial "${common[@]}" \
      --checkpoint "$work/serial.h5" --force >/dev/null
    for n in 1 2 3 4; do
      "$mpiexec" -n "$n" "$parbench" train --workload "$workload" --data "$data" --workers "$n" "$@" "${common[@]}" \
        --checkpoint "$work/run.h5" --force >/dev/null || fail "$* on $n ranks ($workload) exited with $?"
      # Float sums in another order over 3 Adam steps: 1e-3 relative, as the in-process tests.
      "$diff" "$work/run.h5" "$work/serial.h5" 1e-3 || fail "$* on $n ranks ($workload) differs from serial"
      echo "ok: $* on $n ranks ($workload) equals serial"
    done
  done
  ;;
cuda_emulated)
  for workload in violence shoplifting; do
    data=$work/${workload:0:1}.h5
    "$parbench" train --workload "$workload" --data "$data" --strategy serial "${common[@]}" \
      --checkpoint "$work/serial.h5" --force >/dev/null
    "$parbench" train --workload "$workload" --data "$data" --strategy serial --backend cuda_emulated "${common[@]}" \
      --checkpoint "$work/gpu.h5" --metrics "$work/gpu.json" --force >/dev/null || fail "serial on cuda_emulated exited with $?"
    grep -q '"backend": *"cuda_emulated' "$work/gpu.json" || fail "the metrics do not name the backend"
    "$diff" "$work/gpu.h5" "$work/serial.h5" 1e-3 || fail "serial on cuda_emulated ($workload) differs from cpu"
    echo "ok: serial on cuda_emulated ($workload) equals serial on cpu"
    "$mpiexec" -n 2 "$parbench" train --workload "$workload" --data "$data" --strategy ddp --workers 2 \
      --backend cuda_emulated "${common[@]}" --checkpoint "$work/gpu.h5" --force >/dev/null ||
      fail "ddp on cuda_emulated on 2 ranks exited with $?"
    "$diff" "$work/gpu.h5" "$work/serial.h5" 1e-3 || fail "ddp on cuda_emulated ($workload) differs from cpu"
    echo "ok: ddp on 2 ranks on cuda_emulated ($workload) equals serial on cpu"
  done
  expect_error() {  # expect_error TEXT ARGS...: parbench ARGS fails, its message contains TEXT
    local text=$1 output status=0
    shift
    output=$("$parbench" "$@" 2>&1) || status=$?
    ((status != 0)) || fail "parbench $* succeeded"
    grep -qF -- "$text" <<<"$output" || fail "parbench $*: expected '$text' in: $output"
    echo "ok: parbench $* fails with: $(grep -F -- "$text" <<<"$output" | head -1)"
  }
  gpu=(train --workload violence --data "$work/v.h5" --steps 1 --batch 11 --quiet)
  expect_error "--lstm cudnn needs a cuda backend" "${gpu[@]}" --lstm cudnn
  expect_error "--tf32 selects the GPU's TF32 tensor cores" "${gpu[@]}" --tf32
  expect_error "cuDNN runs only on a GPU" "${gpu[@]}" --backend cuda_emulated --lstm cudnn
  expect_error "--device 3 is out of range" "${gpu[@]}" --backend cuda_emulated --device 3
  # Not built (the default configuration), or built and no GPU: one line that says which.
  if output=$("$parbench" "${gpu[@]}" --backend cuda 2>&1); then
    echo "ok: --backend cuda ran: a GPU is usable here"
  else
    grep -qE "was not built|no usable GPU" <<<"$output" || fail "--backend cuda without a GPU: $output"
    echo "ok: --backend cuda fails with: $output"
  fi
  ;;
resume)
  # A constant learning rate, so that a run split in two takes the same steps as a straight one.
  resume=(--workload violence --data "$work/v.h5" --batch 11 --sync-bn --lr 0.01 --adam-eps 1e-3
          --lr-schedule constant --loader-threads 0 --quiet --no-shuffle --force)
  "$parbench" train "${resume[@]}" --strategy serial --steps 4 --checkpoint "$work/straight.h5" >/dev/null
  "$mpiexec" -n 2 "$parbench" train "${resume[@]}" --strategy zero --stage 3 --workers 2 --steps 2 \
    --checkpoint "$work/half.h5" >/dev/null || fail "zero stage 3 on 2 ranks exited with $?"
  "$parbench" train "${resume[@]}" --strategy thread_pool --workers 3 --steps 4 --resume "$work/half.h5" \
    --checkpoint "$work/resumed.h5" --metrics "$work/resumed.json" >/dev/null ||
    fail "thread_pool resuming zero's checkpoint exited with $?"
  started_after_step_2 "$work/resumed.json"
  "$diff" "$work/resumed.h5" "$work/straight.h5" 1e-3 || fail "zero3 (2 ranks) -> thread_pool (3) differs from serial"
  echo "ok: zero stage 3 on 2 ranks, resumed by thread_pool with 3 workers, equals a straight serial run"
  "$parbench" train "${resume[@]}" --strategy thread_pool --workers 2 --steps 2 --checkpoint "$work/half.h5" \
    >/dev/null || fail "thread_pool exited with $?"
  "$mpiexec" -n 3 "$parbench" train "${resume[@]}" --strategy ddp --workers 3 --steps 4 --resume "$work/half.h5" \
    --checkpoint "$work/resumed.h5" --metrics "$work/resumed.json" >/dev/null ||
    fail "ddp resuming thread_pool's checkpoint exited with $?"
  started_after_step_2 "$work/resumed.json"
  "$diff" "$work/resumed.h5" "$work/straight.h5" 1e-3 || fail "thread_pool (2) -> ddp (3 ranks) differs from serial"
  echo "ok: thread_pool with 2 workers, resumed by ddp on 3 ranks, equals a straight serial run"
  ;;
faults)
  # Rank 1 is given a file that does not exist: the job must end within the test's timeout with
  # rank 1's message, never hang with rank 0 waiting in a collective.
  start=$(date +%s)
  set +e
  out=$("$mpiexec" -n 2 bash -c '
    data='"$work/v.h5"'
    if [ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then data='"$work/missing.h5"'; fi
    exec '"$parbench"' train --workload violence --data "$data" --strategy ddp --workers 2 --steps 50 --batch 8 --quiet
  ' 2>&1)
  status=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  [ $status -ne 0 ] || fail "the job with an unreadable file on rank 1 exited with 0"
  grep -q "missing.h5" <<<"$out" || fail "rank 1's message about missing.h5 is not in the output: $out"
  [ $elapsed -le 30 ] || fail "the failing job took ${elapsed}s to end"
  echo "ok: unreadable data on rank 1 ended the job in ${elapsed}s with status $status"

  set +e
  out=$("$mpiexec" -n 2 "$parbench" train --workload violence --data "$work/v.h5" --strategy ddp --workers 3 --steps 1 --batch 8 2>&1)
  status=$?
  set -e
  [ $status -ne 0 ] || fail "--workers 3 on 2 ranks exited with 0"
  grep -q -- "--workers 3" <<<"$out" || fail "no clear message for --workers 3 on 2 ranks: $out"
  echo "ok: --workers 3 on 2 ranks is refused"

  set +e
  out=$("$mpiexec" -n 2 "$parbench" train --workload violence --data "$work/v.h5" --strategy serial --steps 1 --batch 8 2>&1)
  status=$?
  set -e
  [ $status -ne 0 ] || fail "serial on 2 MPI ranks exited with 0"
  grep -q "runs in one process" <<<"$out" || fail "no clear message for serial under mpiexec: $out"
  echo "ok: a one-process strategy under mpiexec is refused"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac

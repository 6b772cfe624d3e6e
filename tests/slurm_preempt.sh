#!/usr/bin/env bash
# slurm/train.sbatch on a real one-node SLURM cluster (slurm/local-cluster.sh): ddp on 2 tasks is
# sent the preemption warning (scancel --signal=USR1 --batch, what --signal=B:USR1 delivers),
# checkpoints, requeues itself, resumes with SLURM_RESTART_COUNT=1 and ends with the parameters of
# a run that was never interrupted.
#   slurm_preempt.sh PARBENCH CHECKPOINT_DIFF SOURCE_DIR
# Exit 77 (skipped) when the SLURM packages are not installed; any other failure fails.
set -euo pipefail
parbench=$(realpath "$1") diff=$(realpath "$2") source_dir=$(realpath "$3")
readonly steps=1000 timeout=300
# shellcheck source=tests/slurm_test_lib.sh
source "$(dirname "$0")/slurm_test_lib.sh"

# The value of KEY in `scontrol show job`, e.g. JobState or Restarts.
job_field() { scontrol show job "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | head -n 1 | cut -d= -f2; }

wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq $((seconds * 2))); do
    "$@" && return
    sleep 0.5
  done
  fail "timed out after ${seconds}s waiting for $what"
}

running_with_checkpoint() { [ "$(job_field "$1" JobState)" = RUNNING ] && [ -f "$work/out/checkpoint.h5" ]; }
finished() {
  case $(job_field "$1" JobState) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) return 0 ;;
    *) return 1 ;;
  esac
}

main() {
  local_cluster_test "$source_dir" /tmp/parbench-slurm-test 6917
  cd "$work"
  "$parbench" data synth --workload shoplifting --samples 256 --out "$work/shop.h5" >/dev/null 2>&1
  local args=(--loader-threads 0 --deterministic)

  # The uninterrupted run: the same 2 ranks through srun, in one go.
  srun --mpi=pmix --ntasks=2 "$parbench" train --workload shoplifting --data "$work/shop.h5" --strategy ddp \
    --workers 2 --batch 32 --steps $steps --checkpoint "$work/straight.h5" --quiet "${args[@]}" >/dev/null ||
    fail "the uninterrupted srun run exited with $?"

  local job
  job=$(PARBENCH=$parbench DATA=$work/shop.h5 WORKLOAD=shoplifting STRATEGY=ddp STEPS=$steps OUT=$work/out \
        TRAIN_ARGS="${args[*]}" sbatch --parsable --ntasks=2 --cpus-per-task=1 "$source_dir/slurm/train.sbatch") ||
    fail "sbatch failed"
  local output=$work/parbench-train-$job.out
  wait_for "job $job to run and write its first checkpoint" 60 running_with_checkpoint "$job"
  scancel --signal=USR1 --batch "$job"
  echo "sent USR1 to the batch shell of job $job"
  wait_for "job $job to be requeued and complete" $timeout finished "$job"

  echo "--- $output"
  cat "$output"
  echo "---"
  [ "$(job_field "$job" JobState)" = COMPLETED ] || fail "job $job ended $(job_field "$job" JobState)"
  [ "$(job_field "$job" ExitCode)" = 0:0 ] || fail "job $job exit code $(job_field "$job" ExitCode)"
  [ "$(job_field "$job" Restarts)" = 1 ] || fail "job $job restarted $(job_field "$job" Restarts) times, not once"
  grep -q "^parbench: preempted at step [0-9]* (epoch [0-9]*); checkpoint written to" "$output" ||
    fail "the first run did not report its preemption"
  grep -q "SLURM_RESTART_COUNT=1: resuming from $work/out/checkpoint.h5" "$output" ||
    fail "the requeued run did not resume from the checkpoint"
  grep -q "trained shoplifting for $steps steps" "$output" || fail "the requeued run did not finish training"
  "$diff" "$work/out/checkpoint.h5" "$work/straight.h5" 0 ||
    fail "the preempted and requeued run differs from the uninterrupted one"
  echo "ok: job $job was preempted, requeued, resumed and equals the uninterrupted run"
}

main

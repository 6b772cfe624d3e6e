#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (Debian's slurmctld + slurmd + munge, run as root
# without systemd), for running and testing the slurm/ scripts against a real scheduler
# (design.md §7; the facts it relies on are in /work/shared/notes/slurm.md).
#
#   slurm/local-cluster.sh up     [--state DIR] [--port P]  start munged (if not running), slurmctld, slurmd;
#                                                           prints `export SLURM_CONF=DIR/slurm.conf`
#   slurm/local-cluster.sh down   [--state DIR]             cancel the jobs, stop the daemons it started
#   slurm/local-cluster.sh status [--state DIR]             sinfo and squeue
#
# Usage: eval "$(slurm/local-cluster.sh up)"; sbatch ...; slurm/local-cluster.sh down
# DIR (default /tmp/parbench-slurm) holds slurm.conf, gres.conf, the daemons' state, pid and log
# files. The node has this host's CPUs and memory, and 2 fake GPUs (gres gpu:2 on /dev/null and
# /dev/zero): enough for SLURM to set CUDA_VISIBLE_DEVICES for --gpus-per-node / --gpus-per-task.
# P (default 6817) is slurmctld's port, P+1 slurmd's: clusters with other state folders and ports
# can run side by side (the tests use their own).
set -euo pipefail

state=/tmp/parbench-slurm
port=6817
starting=false  # set while `up` starts daemons: a failure then says how to stop those that did start
readonly munge_pid_file=/run/munge/munged.pid

usage() {
  sed -n '5,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

log() { echo "local-cluster: $*" >&2; }

# Prints the message and the end of the daemon's log, then exits 1.
fail() {
  local message=$1 logfile=${2:-}
  log "error: $message"
  if [ -n "$logfile" ] && [ -f "$logfile" ]; then
    log "last lines of $logfile:"
    tail -n 25 "$logfile" | sed 's/^/    /' >&2
  fi
  if $starting; then log "stop what did start with: $0 down --state $state"; fi
  exit 1
}

# The pid in FILE when that process is alive and runs COMMAND (not a reused pid).
running_pid() {
  local file=$1 command=$2 pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$command" ] || return 1
  echo "$pid"
}

require_packages() {
  local missing=()
  for tool in slurmctld slurmd sinfo squeue scontrol munged munge unmunge; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local packages="slurmctld slurmd slurm-client munge libpmix2 libpmix-dev"
    fail "missing ${missing[*]}: install $packages (scripts/install-deps.sh does)"
  fi
  # slurmd loads the PMIx library when it starts: without it `srun --mpi=pmix` steps hang.
  # (No `ldconfig -p | grep -q`: grep's early exit would fail the pipe under pipefail.)
  if ! dpkg -s libpmix-dev >/dev/null 2>&1 && [ ! -e /usr/lib/x86_64-linux-gnu/libpmix.so ]; then
    fail "libpmix.so not found: install libpmix-dev before starting slurmd (srun --mpi=pmix needs it)"
  fi
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    log "munge is running"
    return
  fi
  mkdir -p /run/munge
  chown munge:munge /run/munge
  chmod 0755 /run/munge
  [ -f /etc/munge/munge.key ] || fail "/etc/munge/munge.key is missing (reinstall munge, or run mungekey as munge)"
  runuser -u munge -- /usr/sbin/munged || fail "munged did not start" /var/log/munge/munged.log
  # Only a munged this script started is stopped by `down`.
  touch "$state/munged.started"
  for _ in $(seq 50); do
    munge_works && break
    sleep 0.1
  done
  munge_works || fail "munge -n | unmunge does not print STATUS: Success" /var/log/munge/munged.log
  log "started munged"
}

# The NodeName line of this host from `slurmd -C`, with RealMemory 5% lower (slurmd refuses to
# register a node that has less memory than configured, and free memory varies) and 2 fake GPUs.
node_line() {
  local line memory
  line=$(slurmd -C | grep '^NodeName=') || fail "slurmd -C did not print a NodeName line"
  memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
  line=$(sed 's/ RealMemory=[0-9]*//; s/ UpTime=.*//' <<<"$line")
  echo "$line RealMemory=$((memory * 95 / 100)) NodeAddr=127.0.0.1 Gres=gpu:2 State=UNKNOWN"
}

write_config() {
  mkdir -p "$state/ctld" "$state/slurmd"
  cat >"$state/gres.conf" <<EOF
# Two fake GPUs: SLURM only needs device files to hand out; CUDA_VISIBLE_DEVICES numbers them 0, 1.
AutoDetect=off
Name=gpu File=/dev/null
Name=gpu File=/dev/zero
EOF
  cat >"$state/slurm.conf" <<EOF
# Written by slurm/local-cluster.sh: a one-node cluster for tests. See slurm.conf(5).
ClusterName=parbench
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Jobs choose PMIx themselves (srun --mpi=pmix); pmi2 does not work with Debian's OpenMPI.
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
ReturnToService=2
# Preempted jobs requeue themselves (scontrol requeue, sbatch --requeue).
JobRequeue=1
# A requeued job may start again only after the job credential lifetime (default 120 s).
AuthInfo=cred_expire=10
# Short timeouts: a test waits seconds, not minutes, for jobs to start, end and be cleaned up.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=120
Waittime=0
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$(node_line)
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

# Waits until sinfo shows the node idle (slurmd registered with slurmctld).
wait_idle() {
  local node_state=""
  for _ in $(seq 60); do
    node_state=$(sinfo -h -o %T 2>/dev/null | head -n 1) || true
    [ "$node_state" = idle ] && return
    sleep 0.5
  done
  log "sinfo shows the node as '${node_state:-nothing}' after 30 s, not idle"
  tail -n 10 "$state/slurmctld.log" | sed 's/^/    slurmctld: /' >&2 || true
  fail "the node did not become idle" "$state/slurmd.log"
}

cmd_up() {
  export SLURM_CONF=$state/slurm.conf
  local daemon
  if running_pid "$state/slurmctld.pid" slurmctld >/dev/null && running_pid "$state/slurmd.pid" slurmd >/dev/null; then
    log "already up ($state)"
    echo "export SLURM_CONF=$SLURM_CONF"
    return
  fi
  require_packages
  mkdir -p "$state"
  starting=true
  start_munge
  write_config
  if ! running_pid "$state/slurmctld.pid" slurmctld >/dev/null; then
    slurmctld -f "$SLURM_CONF" || fail "slurmctld -f $SLURM_CONF did not start" "$state/slurmctld.log"
  fi
  if ! running_pid "$state/slurmd.pid" slurmd >/dev/null; then
    slurmd -f "$SLURM_CONF" || fail "slurmd -f $SLURM_CONF did not start" "$state/slurmd.log"
  fi
  sleep 0.5
  for daemon in slurmctld slurmd; do
    running_pid "$state/$daemon.pid" "$daemon" >/dev/null || fail "$daemon exited after starting" "$state/$daemon.log"
  done
  wait_idle
  log "up: $(sinfo -h -o '%N %c CPUs %m MB %G %T')"
  echo "export SLURM_CONF=$SLURM_CONF"
}

# SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1 name=$2
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    [ -d "/proc/$pid" ] || { log "stopped $name ($pid)"; return; }
    sleep 0.1
  done
  log "$name ($pid) did not stop on SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
  export SLURM_CONF=$state/slurm.conf
  local pid jobs
  # Jobs first: processes of a job outlive a stopped slurmd.
  if running_pid "$state/slurmctld.pid" slurmctld >/dev/null; then
    mapfile -t jobs < <(squeue -h -o %i 2>/dev/null || true)
    if [ ${#jobs[@]} -gt 0 ]; then
      log "cancelling jobs: ${jobs[*]}"
      scancel "${jobs[@]}" 2>/dev/null || true
      for _ in $(seq 30); do
        [ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
        sleep 0.5
      done
    fi
  fi
  for daemon in slurmd slurmctld; do
    if pid=$(running_pid "$state/$daemon.pid" "$daemon"); then stop_pid "$pid" "$daemon"; fi
  done
  if [ -f "$state/munged.started" ]; then
    if pid=$(running_pid "$munge_pid_file" munged); then stop_pid "$pid" munged; fi
    rm -f "$state/munged.started"
  fi
  log "down ($state)"
}

cmd_status() {
  export SLURM_CONF=$state/slurm.conf
  local daemon pid
  for daemon in slurmctld slurmd; do
    if pid=$(running_pid "$state/$daemon.pid" "$daemon"); then
      echo "$daemon: running ($pid)"
    else
      echo "$daemon: not running"
    fi
  done
  if running_pid "$state/slurmctld.pid" slurmctld >/dev/null; then
    sinfo
    squeue
  fi
}

main() {
  [ $# -ge 1 ] || usage
  local command=$1
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --state) state=${2:?--state needs a folder}; shift 2 ;;
      --port) port=${2:?--port needs a number}; shift 2 ;;
      *) usage ;;
    esac
  done
  state=$(realpath -m "$state")
  case $command in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) usage ;;
  esac
}

main "$@"

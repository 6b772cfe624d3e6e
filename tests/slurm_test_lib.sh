# shellcheck shell=bash
# Shared by the tests that run against a real one-node SLURM (slurm/local-cluster.sh); sourced
# after `set -euo pipefail`. Each test has its own state folder and port: the daemons of a killed
# run are found there and stopped by the next run, and a cluster started by hand on the default
# port is left alone.
#   local_cluster_test SOURCE_DIR STATE_DIR PORT   # skips (77) without SLURM, starts the cluster,
#                                                  # exports SLURM_CONF, sets $work, stops all at exit

fail() { echo "FAIL: $*" >&2; exit 1; }

local_cluster_test() {
  cluster=$1/slurm/local-cluster.sh
  cluster_state=$2
  local port=$3 tool exports
  for tool in slurmctld slurmd sbatch munged; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
      echo "SKIP: $tool is not installed (scripts/install-deps.sh installs SLURM)"
      exit 77
    fi
  done
  work=$(mktemp -d)
  trap '"$cluster" down --state "$cluster_state" || true; rm -rf "$work"' EXIT
  "$cluster" down --state "$cluster_state" >/dev/null 2>&1 || true
  rm -rf "$cluster_state"
  exports=$("$cluster" up --state "$cluster_state" --port "$port") || fail "the local cluster did not start"
  eval "$exports"
}

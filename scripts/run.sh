#!/usr/bin/env bash
# The main job on the built-in default: installs the Debian packages, builds parbench and its
# benchmark harnesses (the "cpu" preset), and runs `parbench sweep`: both workloads on built-in
# synthetic batches, CPU backend, every strategy at 1, 2, 3 and 4 workers (3 and 4 oversubscribe a
# 2-core machine, and the report says so) plus the MPI collectives, 3 repetitions each, then the
# report (report.md, scaling.json, CSV, plots) in results/runs/<timestamp>/. A few minutes on 2
# cores. Extra arguments go to `parbench sweep` (e.g. --workloads violence --workers 1,2).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset cpu
cmake --build --preset cpu -j "$(nproc)" --target parbench bench_strategies bench_collectives
build/cpu/cli/parbench sweep "$@"

#!/usr/bin/env bash
# The main job on the built-in default: installs the Debian packages, builds parbench (the "cpu"
# preset), writes a synthetic violence dataset (train/val splits) and inspects it.
# Outputs land in results/default/ (override with PARBENCH_OUT=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${PARBENCH_OUT:-results/default}
samples=${PARBENCH_SAMPLES:-512}

bash scripts/install-deps.sh
cmake --preset cpu
cmake --build --preset cpu -j "$(nproc)" --target parbench
parbench=build/cpu/cli/parbench

mkdir -p "$out"
"$parbench" context > "$out/context.json"
"$parbench" data synth --workload violence --samples "$samples" --split train,val --seed 0 \
  --out "$out/violence.h5" --force
"$parbench" data inspect "$out/violence.h5" | tee "$out/violence-inspect.txt"
"$parbench" data inspect "$out/violence.h5" --json --no-scan > "$out/violence-inspect.json"
echo "main job done: $out/violence.h5, $out/violence-inspect.{txt,json}, $out/context.json"

#!/usr/bin/env bash
# The main job on the built-in default: installs the Debian packages, builds parbench (the "cpu"
# preset), writes a synthetic violence dataset (train/val splits), inspects it, describes the
# model, and trains it serially for six epochs with metrics (about 0.9 validation accuracy).
# The strategy sweep and its report replace the last step when they land.
# Outputs go to results/default/ (PARBENCH_OUT=DIR).
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
"$parbench" describe --workload violence --batch 32 | tee "$out/violence-describe.txt"
"$parbench" train --workload violence --data "$out/violence.h5" --strategy serial --threads 1 \
  --batch 32 --epochs 6 --metrics "$out/violence-train.json" --checkpoint "$out/violence-checkpoint.h5" --force
echo "main job done: $out/ holds violence.h5, violence-inspect.{txt,json}, violence-describe.txt,"
echo "  violence-train.json (parbench.train/1), violence-checkpoint.h5, context.json"

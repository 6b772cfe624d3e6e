#!/usr/bin/env bash
# Every strategy trains the same model on the same data to the same accuracy: installs the Debian
# packages, builds parbench (the "cpu" preset), writes a synthetic violence dataset (train/val
# splits), inspects it, describes the model, trains it serially for six epochs with metrics
# (about 0.9 validation accuracy), then six epochs under every other strategy with 2 workers (ddp
# and zero as 2 MPI ranks), and prints their samples/s, exposed communication, memory and
# validation accuracy side by side. Outputs go to results/default/ (PARBENCH_OUT=DIR).
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
# mpirun as root (containers, CI) and on machines with fewer cores than ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
common=(--workload violence --data "$out/violence.h5" --batch 32 --epochs 6 --sync-bn --quiet --force)
for strategy in serial thread_pool task_graph dp; do
  workers=2
  [ "$strategy" = serial ] && workers=1
  "$parbench" train "${common[@]}" --workers "$workers" --strategy "$strategy" \
    --metrics "$out/strategy-$strategy.json"
done
mpirun -np 2 "$parbench" train "${common[@]}" --workers 2 --strategy ddp --metrics "$out/strategy-ddp.json"
for stage in 1 2 3; do
  mpirun -np 2 "$parbench" train "${common[@]}" --workers 2 --strategy zero --stage "$stage" \
    --metrics "$out/strategy-zero$stage.json"
done
python3 - "$out" <<'PY'
import glob, json, os, sys
print(f"{'strategy':<12} {'workers':>7} {'samples/s':>10} {'step ms':>8} {'exposed comm ms':>16} {'model state MB':>15} {'val acc':>8}")
for path in sorted(glob.glob(os.path.join(sys.argv[1], "strategy-*.json"))):
    m = json.load(open(path))
    c, e, mem = m["config"], m["epochs"][-1], m["memory_per_worker_bytes"]
    name = c["strategy"] + (str(c["stage"]) if c["strategy"] == "zero" else "")
    acc = next(iter(e.get("eval", {}).values()), {}).get("accuracy", float("nan"))
    print(f"{name:<12} {c['workers']:>7} {e['samples_per_s']:>10.0f} {e['step_ms']['total']:>8.1f} "
          f"{e['step_ms']['exposed_communication']:>16.1f} {mem['model_state'] / 1e6:>15.1f} {acc:>8.3f}")
PY
echo "main job done: $out/ holds violence.h5, violence-inspect.{txt,json}, violence-describe.txt,"
echo "  violence-train.json (parbench.train/1), violence-checkpoint.h5, strategy-*.json, context.json"

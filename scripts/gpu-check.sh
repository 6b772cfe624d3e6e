#!/usr/bin/env bash
# The GPU check to run on a machine with an NVIDIA GPU (CUDA 13: driver 580 or later), as one
# command: builds the `cuda` preset, runs the label-gpu tests (the nvcc-built kernels, and both
# workloads' training steps on the GPU against the cpu backend), then trains each workload for a
# few steps on cpu and on cuda through `parbench train` and prints ms per step and memory from
# the runs' metrics. Everything it writes goes to one folder (default build/gpu-check).
#   scripts/gpu-check.sh [OUT] [STEPS]
# Exit status: the first failing stage's. Without a usable GPU the gpu tests are skipped and the
# cuda runs stop with the backend's one-line reason; the script then says so and exits 77.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu-check}
steps=${2:-30}
mkdir -p "$out"

cmake --preset cuda >/dev/null
cmake --build --preset cuda -j "$(nproc)" --target parbench parbench_tests parbench_cuda_gpu_smoke
ctest --test-dir build/cuda -L gpu --output-on-failure | tee "$out/ctest-gpu.log"
if grep -q "Not Run\|Skipped" "$out/ctest-gpu.log"; then
  echo "gpu-check: no usable GPU here; the gpu tests were skipped (reasons above)" >&2
  exit 77
fi

parbench=build/cuda/cli/parbench
for workload in violence shoplifting; do
  data=$out/$workload.h5
  [[ -f $data ]] || "$parbench" data synth --workload "$workload" --samples $((64 * (steps + 2))) --out "$data"
  for backend in cpu cuda; do
    "$parbench" train --workload "$workload" --data "$data" --backend "$backend" --batch 64 --steps "$steps" \
      --threads "$(nproc)" --quiet --force --metrics "$out/$workload-$backend.json"
  done
done

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
print(f"{'workload':<12} {'backend':<6} {'ms/step':>9} {'compute':>9} {'optimizer':>9} {'device peak MiB':>16}  backend")
for workload in ("violence", "shoplifting"):
    for backend in ("cpu", "cuda"):
        m = json.load(open(f"{out}/{workload}-{backend}.json"))
        ms = m["epochs"][-1]["step_ms"]
        peak = m["memory_per_worker_bytes"]["measured_device_peak"] / 2**20
        print(f"{workload:<12} {backend:<6} {ms['total']:9.2f} {ms['compute']:9.2f} {ms['optimizer']:9.2f} "
              f"{peak:16.1f}  {m['context']['backend']}")
EOF

#!/usr/bin/env bash
# The nvcc build of the CUDA kernels (kernels/cuda/*.cu for sm_80, sm_90a and compute_90 PTX), as
# CI runs it on machines without a GPU: compile and link only, every nvcc and ptxas warning an
# error (spills and local memory included), ptxas's per-kernel registers and shared memory
# printed. Then cuDNN's LSTM descriptor set-up (no GPU needed) and the smoke program, which runs
# the kernels where a GPU exists and exits 77 (no usable GPU, and why) where none does. Needs the
# CUDA toolkit in /usr/local/cuda.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "cuda-build: SKIPPED: no /usr/local/cuda/bin/nvcc on this machine"
  exit 0
fi
cmake --preset cuda -DPARBENCH_WERROR=ON >/dev/null
# ptxas -v prints one block per kernel and architecture; keep the lines that say what each costs.
cmake --build --preset cuda -j "$(nproc)" --target parbench_cuda_device parbench_cuda_gpu_smoke \
  parbench_cudnn_descriptor_test 2>&1 |
  grep -E "error|warning|Compiling entry|Used [0-9]+ registers|spill|Built target" || true
[[ ${PIPESTATUS[0]} == 0 ]] || { echo "cuda-build: the nvcc build failed" >&2; exit 1; }
# cuDNN's LSTM descriptors need no GPU: their set-up for the violence shapes is checked here.
build/cuda/kernels/cuda/device/parbench_cudnn_descriptor_test
status=0
build/cuda/kernels/cuda/device/parbench_cuda_gpu_smoke || status=$?
case $status in
  0) echo "cuda-build: the kernels ran on a GPU" ;;
  77) echo "cuda-build: built; no GPU here, so nothing ran (the emulated kernels run in the test stage)" ;;
  *) echo "cuda-build: the smoke program failed with status $status" >&2; exit 1 ;;
esac

#!/usr/bin/env bash
# The GPU benchmark, as one prepared script: DCGAN-64 on random 3x64x64 images at
# batch 64, 128 and 1024 in fp32 / TF32 / bf16, eager and compiled, channels_last, against the
# card's bf16 and fp32 matmul peaks measured in the same run; then the default toy run on the
# GPU. Under 8 minutes on a current card.
#
#   bash benchmarks/gpu.sh                 # on a machine with CUDA
#   bash benchmarks/gpu.sh --dry-run       # tiny sizes on the CPU (what the test suite runs)
#
# The canonical peer (pytorch/examples dcgan/main.py, which needs torchvision) is not part of
# this script yet: its numbers are still to be measured beside gankit's.
set -euo pipefail
cd "$(dirname "$0")/.."
GANKIT=${GANKIT:-.venv/bin/gankit}
OUT=${OUT:-runs/bench/gpu}
if [ "${1:-}" = "--dry-run" ]; then
  "$GANKIT" bench speed --set device=cpu --set models=[dcgan-32] --set dcgan_batches=[2,4] \
    --set precisions=[fp32,bf16] --set tf32=true --set compile=[false] --set channels_last=[false] \
    --set steps=1 --set warmup=0 --set matmul_size=64 --set data_path=false --set out="$OUT/speed"
  "$GANKIT" train --set device=cpu --set train.steps=20 --set train.progress=false \
    --set eval.num_samples=200 --out "$OUT/toy-$$"
  exit 0
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
"$GANKIT" bench speed --set device=cuda --set models=[dcgan-64] --set dcgan_batches=[64,128,1024] \
  --set precisions=[fp32,bf16] --set tf32=true --set compile=[false,true] --set channels_last=[true] \
  --set steps=20 --set warmup=5 --set matmul_size=8192 --set data_path=false --set out="$OUT/speed"
/usr/bin/time -f "default toy run on the GPU: %e s wall" \
  "$GANKIT" train --set device=cuda --set train.progress=false --out "$OUT/toy-$(date +%s)"

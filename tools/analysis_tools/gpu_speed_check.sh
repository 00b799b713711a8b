#!/usr/bin/env bash
# The speed targets of the Swin, CeiT and T2T-ViT backbones on one GPU, in one command:
# every preset >= 0.98x our own Default (forward and forward+backward) and, for Swin-T,
# >= 1.0x mmpretrain's Swin-T, fp32 and AMP, batch 64; plus the window-attention timing
# (ours vs mmpretrain's WindowMSA). Tables and JSON go to $OUT (default work_dirs/speed_check);
# the exit status is 1 if a target is missed.
#   bash tools/analysis_tools/gpu_speed_check.sh [PYTHON]
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-python}
OUT=${OUT:-work_dirs/speed_check}
mkdir -p "$OUT"
status=0
for precision in fp32 amp; do
  amp=(); [ "$precision" = amp ] && amp=(--amp)
  "$PY" tools/analysis_tools/benchmark.py --archs swin-tiny,ceit-tiny,t2t-vit-7,deit-tiny \
    --device cuda --batch-size 64 --iters 20 --warmup 5 "${amp[@]}" --check-targets \
    --json "$OUT/benchmark_$precision.json" --markdown "$OUT/benchmark_$precision.md" \
    2>&1 | tee "$OUT/benchmark_$precision.log" || status=1
done
"$PY" tools/analysis_tools/benchmark.py --window-attention --device cuda --batch-size 64 \
  --iters 20 2>&1 | tee "$OUT/window_attention.md" || status=1
exit $status

#!/usr/bin/env bash
# `make demo`: the whole story on generated data, on CPU, in a few minutes per stage.
#   1. generate the demo data (ImageNet, COCO and ADE20K layouts from one scene source)
#   2. train the MPVG demo classifier with tools/train.py, evaluate with tools/test.py
#   3. fine-tune Mask R-CNN and UperNet from that checkpoint, evaluate them
#   4. run the PE counterbalancing diagnostics on the classifier
# Each stage's log: work_dirs/demo_*/. Set DEMO_STAGES="cls det seg diag" to choose.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
DATA=data/demo
STAGES=${DEMO_STAGES:-"cls det seg diag"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}  # 1 on a machine shared with other jobs
summary=()
say() { printf '\n==== %s\n' "$*"; }
# the metric lines of a tools/test.py run, without the timing fields
metrics() { grep -E "(Epoch|Iter)\(test\)" "$1" | tail -n1 | sed -E 's/.*(Epoch|Iter)\(test\) *\[[0-9]+\/[0-9]+\] *//; s/ *data_time:.*//'; }

say "1/4 demo data -> $DATA"
$PY tools/make_demo_data.py $DATA --formats imagenet --num-train 300 --num-val 25
$PY tools/make_demo_data.py $DATA --formats coco,ade20k

CLS_CFG=configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py
CLS_DIR=work_dirs/demo_cls_mpvg
CLS_CKPT=$CLS_DIR/epoch_30.pth
if [[ " $STAGES " == *" cls "* ]]; then
  say "2/4 classification: train $CLS_CFG (position-dependent task, 8 classes, chance 12.5%)"
  $PY tools/train.py $CLS_CFG --work-dir $CLS_DIR
  $PY tools/test.py $CLS_CFG $CLS_CKPT --work-dir $CLS_DIR/test 2>&1 | tee $CLS_DIR/test.log
  summary+=("classification (demo val): $(metrics $CLS_DIR/test.log)")
fi

# fine-tune NAME CONFIG WORK_DIR: train from the classifier's checkpoint, then test
finetune() {
  local name=$1 cfg=$2 dir=$3 ckpt
  $PY tools/train.py "$cfg" --work-dir "$dir" --cfg-options \
    model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint=$CLS_CKPT \
    model.backbone.init_cfg.prefix=backbone.
  ckpt=$(ls -t "$dir"/*.pth | head -n1)
  $PY tools/test.py "$cfg" "$ckpt" --work-dir "$dir/test" 2>&1 | tee "$dir/test.log"
  summary+=("$name (demo val): $(metrics "$dir/test.log")")
}

if [[ " $STAGES " == *" det "* ]]; then
  say "3/4 detection: Mask R-CNN from the classification checkpoint"
  finetune detection configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py \
    work_dirs/demo_det_mpvg
fi

if [[ " $STAGES " == *" seg "* ]]; then
  say "3/4 segmentation: UperNet from the classification checkpoint"
  finetune segmentation configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py \
    work_dirs/demo_seg_mpvg
fi

DIAG_DIR=work_dirs/demo_diagnostics
if [[ " $STAGES " == *" diag "* ]]; then
  say "4/4 diagnostics of the classifier -> $DIAG_DIR"
  $PY tools/analysis_tools/pe_counterbalance.py $CLS_CFG $CLS_CKPT --out-dir $DIAG_DIR
  summary+=("diagnostics: figures and diagnostics.json in $DIAG_DIR")
fi

say "demo summary"
printf '%s\n' "${summary[@]}"

# Mask R-CNN on a plain DeiT-Ti with ViTDet's simple feature pyramid; the data and
# schedule of the ViT-Adapter variant (3x, multi-scale) plus layer-wise lr decay 0.9.
# Not in the paper: a plain-ViT counterpart of its Table 3.
# PVG: Default block 0, then LaPE's layer-wise PE for blocks 1..11 (GAP classifier).
_base_ = [
    '../_base_/models/mask-rcnn_mpvg-vit-deit-tiny_sfp.py',
    '../_base_/datasets/coco_instance_ms.py',
    '../_base_/schedules/coco_adamw_layer-decay_3x.py',
    '../_base_/default_runtime_det.py'
]
# Backbone init: the DeiT-Ti classifier of the same PE structure, trained with
# configs/mpvg/deit-tiny_pvg_8xb128_in1k.py. Point `checkpoint` at your own file, or
# override it: --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    backbone=dict(
        pe_mode='pvg',
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/deit-tiny_pvg_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.')))

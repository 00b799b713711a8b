# Mask R-CNN + ViT-Adapter-Ti, 3x schedule with multi-scale training (paper, Table 3).
# MPVG: PVG plus LN''(pos_0) added after the Last LN (here at the stride-16 output).
_base_ = [
    '../_base_/models/mask-rcnn_vit-adapter-deit-tiny_fpn.py',
    '../_base_/datasets/coco_instance_ms.py', '../_base_/schedules/coco_adamw_3x.py',
    '../_base_/default_runtime_det.py'
]
# Backbone init: the DeiT-Ti classifier of the same PE structure, trained with
# configs/mpvg/deit-tiny_mpvg_8xb128_in1k.py. Point `checkpoint` at your own file, or
# override it: --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    backbone=dict(
        pe_mode='mpvg',
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/deit-tiny_mpvg_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.')))

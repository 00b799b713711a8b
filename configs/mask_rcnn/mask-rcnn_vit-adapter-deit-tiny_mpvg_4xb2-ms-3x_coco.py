# Mask R-CNN + ViT-Adapter-Ti, 3x schedule with multi-scale training (paper, Table 3),
# the backbone initialised from the DeiT-Ti MPVG classifier. MPVG: PVG plus LN''(pos_0)
# added after the Last LN (here at the stride-16 output). Point the checkpoint at your own
# file: --cfg-options model.backbone.init_cfg.checkpoint=PATH
# The recipe, value by value against the official ViT-Adapter config: configs/README.md.
_base_ = [
    '../_base_/models/mask-rcnn_vit-adapter-deit-tiny_fpn.py',
    '../_base_/datasets/coco_instance_ms.py',
    '../_base_/schedules/coco_adamw_3x_vit-adapter.py',
    '../_base_/default_runtime_det.py'
]

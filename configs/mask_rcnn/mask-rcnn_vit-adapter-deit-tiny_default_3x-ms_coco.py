# Mask R-CNN + ViT-Adapter-Ti, 3x schedule with multi-scale training (paper, Table 3).
# Default (DeiT) PE: pos_0 added to the patch tokens at the input only.
_base_ = [
    '../_base_/models/mask-rcnn_vit-adapter-deit-tiny_fpn.py',
    '../_base_/datasets/coco_instance_ms.py', '../_base_/schedules/coco_adamw_3x.py',
    '../_base_/default_runtime_det.py'
]
# The classifier has a class token; the adapter uses patch tokens only (always built
# without one, see MPVGViTAdapter): on load the checkpoint's cls_token is ignored and
# the class row of its pos_embed dropped.
# Backbone init: the DeiT-Ti classifier of the same PE structure, trained with
# configs/mpvg/deit-tiny_default_8xb128_in1k.py. Point `checkpoint` at your own file, or
# override it: --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    backbone=dict(
        pe_mode='default',
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/deit-tiny_default_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.')))

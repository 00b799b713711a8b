# Mask R-CNN on a plain DeiT-Ti with ViTDet's simple feature pyramid; the data and
# schedule of the ViT-Adapter variant (3x, multi-scale) plus layer-wise lr decay 0.9.
# Not in the paper: a plain-ViT counterpart of its Table 3.
# LaPE: a layer-wise PE, pos_l = LN'_l(pos_{l-1}), on every block's attention input.
_base_ = [
    '../_base_/models/mask-rcnn_mpvg-vit-deit-tiny_sfp.py',
    '../_base_/datasets/coco_instance_ms.py',
    '../_base_/schedules/coco_adamw_layer-decay_3x.py',
    '../_base_/default_runtime_det.py'
]
# The classifier has a class token; this backbone has none (with_cls_token=False in the
# base, as ViTDet): on load the checkpoint's cls_token is ignored and the class row of
# its pos_embed dropped.
# Backbone init: the DeiT-Ti classifier of the same PE structure, trained with
# configs/mpvg/deit-tiny_lape_8xb128_in1k.py. Point `checkpoint` at your own file, or
# override it: --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    backbone=dict(
        pe_mode='lape',
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/deit-tiny_lape_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.')))

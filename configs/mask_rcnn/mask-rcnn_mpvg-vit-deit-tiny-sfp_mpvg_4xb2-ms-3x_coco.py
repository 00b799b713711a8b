# Mask R-CNN on a plain DeiT-Ti with ViTDet's simple feature pyramid; the data and
# schedule of the ViT-Adapter variant (3x, multi-scale) plus layer-wise lr decay 0.9.
# Not in the paper: a plain-ViT counterpart of its Table 3, the backbone initialised
# from the DeiT-Ti MPVG classifier (MPVG: PVG plus LN''(pos_0) added after the Last LN;
# which of the two terms the pyramid gets is the base's final_norm). Point the
# checkpoint at your own file:
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/mask-rcnn_mpvg-vit-deit-tiny_sfp.py',
    '../_base_/datasets/coco_instance_ms.py',
    '../_base_/schedules/coco_adamw_layer-decay_3x.py',
    '../_base_/default_runtime_det.py'
]

# CPU demo of the plain-ViT detector structure of configs/mask_rcnn/mask-rcnn_mpvg-vit-
# deit-tiny-sfp_*.py (ViTDet): the LAST block's map alone feeds SimpleFeaturePyramid.
# Everything else is the demo detector (mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py:
# the demo classifier's 4-block MPVGViT, 64-channel heads, 14 epochs). The demo ViT has
# 8x8 patches, so its map is at stride 8: scale factors 2/1/0.5 give strides 4/8/16 and
# the extra (max-pool) level stride 32, the four levels of the demo's RPN and RoI heads.
#
# This is the config of the final_norm study (tools/analysis_tools/switch_study.py,
# README "Plain-ViT detection: where the Last LN goes"): model.backbone.final_norm
# chooses what the last block's output gets before the pyramid.
_base_ = ['./mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py']
channels = {{_base_.channels}}
model = dict(
    backbone=dict(out_indices=-1, final_norm='none'),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=128,
        out_channels=channels,
        scale_factors=(2.0, 1.0, 0.5),
        num_outs=4,
        norm_cfg=dict(type='LN2d', eps=1e-6)))

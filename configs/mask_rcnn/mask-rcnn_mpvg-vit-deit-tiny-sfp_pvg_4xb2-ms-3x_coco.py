# PVG: the input PE, then LaPE's layer-wise PE for blocks 1..11.
_base_ = ['./mask-rcnn_mpvg-vit-deit-tiny-sfp_mpvg_4xb2-ms-3x_coco.py']
model = dict(
    backbone=dict(
        pe_mode='pvg',
        init_cfg=dict(checkpoint='work_dirs/deit-tiny_pvg_8xb128_in1k/epoch_300.pth')))

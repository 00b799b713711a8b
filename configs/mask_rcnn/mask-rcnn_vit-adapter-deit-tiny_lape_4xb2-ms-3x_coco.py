# LaPE: no input PE; a layer-wise PE, pos_l = LN'_l(pos_{l-1}), on every block's attention
# input.
# The classifier's class token and the class row of its pos_embed are dropped on load
# (this backbone has none).
_base_ = ['./mask-rcnn_vit-adapter-deit-tiny_mpvg_4xb2-ms-3x_coco.py']
model = dict(
    backbone=dict(
        pe_mode='lape',
        init_cfg=dict(checkpoint='work_dirs/deit-tiny_lape_8xb128_in1k/epoch_300.pth')))

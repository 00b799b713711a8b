# Default preset of mask-rcnn_mpvg-swin-t_mpvg_fpn_ms-crop-3x_coco.py, from the Default Swin-T classifier.
_base_ = ['./mask-rcnn_mpvg-swin-t_mpvg_fpn_ms-crop-3x_coco.py']
model = dict(backbone=dict(
    pe_mode='default',
    init_cfg=dict(checkpoint='work_dirs/swin-tiny_default_16xb64_in1k/epoch_300.pth')))

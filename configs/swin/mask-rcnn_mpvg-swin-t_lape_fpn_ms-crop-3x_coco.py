# LaPE preset of mask-rcnn_mpvg-swin-t_mpvg_fpn_ms-crop-3x_coco.py, from the LaPE Swin-T classifier.
_base_ = ['./mask-rcnn_mpvg-swin-t_mpvg_fpn_ms-crop-3x_coco.py']
model = dict(backbone=dict(
    pe_mode='lape',
    init_cfg=dict(checkpoint='work_dirs/swin-tiny_lape_16xb64_in1k/epoch_300.pth')))

# LaPE preset of upernet_mpvg-swin-t_mpvg_8xb2-160k_ade20k-512x512.py, from the LaPE Swin-T classifier.
_base_ = ['./upernet_mpvg-swin-t_mpvg_8xb2-160k_ade20k-512x512.py']
model = dict(backbone=dict(
    pe_mode='lape',
    init_cfg=dict(checkpoint='work_dirs/swin-tiny_lape_16xb64_in1k/epoch_300.pth')))

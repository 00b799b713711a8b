# DeiT-Ti with MPVG on ImageNet-1K, the paper's DeiT recipe (Table 7; batch 1024 =
# 8 GPUs x 128). MPVG: PVG plus LN''(pos_0) added after the Last LN, then GAP (Eq. 11).
# The other presets and sizes, and the ablations, are thin configs on this one.
_base_ = [
    '../_base_/models/mpvg-vit.py', '../_base_/datasets/imagenet_bs128_deit.py',
    '../_base_/schedules/imagenet_bs1024_adamw_300e.py', '../_base_/default_runtime_cls.py'
]
model = dict(backbone=dict(arch='deit-tiny', pe_mode='mpvg'), head=dict(in_channels=192))

# ViT-Lite-7/4 with MPVG on CIFAR-100 (32x32, 4x4 patches), the paper's ViT-Lite recipe
# (Table 9). MPVG: PVG plus LN''(pos_0) added after the Last LN, then GAP (Eq. 11).
_base_ = [
    '../_base_/models/mpvg-vit.py', '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/cifar100_bs128_adamw_310e.py', '../_base_/default_runtime_cls.py'
]
model = dict(
    backbone=dict(arch='vit-lite', pe_mode='mpvg', img_size=32),
    head=dict(num_classes=100, in_channels=256))

# Default (DeiT): pos_0 added to the patch tokens at the input only; class token.
_base_ = ['./vit-lite-7-4_mpvg_1xb128_cifar100.py']
model = dict(backbone=dict(pe_mode='default'))

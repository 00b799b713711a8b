# LaPE: no input PE; a layer-wise PE, pos_l = LN'_l(pos_{l-1}), on every block's attention
# input; class token.
_base_ = ['./vit-lite-7-4_mpvg_1xb128_cifar100.py']
model = dict(backbone=dict(pe_mode='lape'))

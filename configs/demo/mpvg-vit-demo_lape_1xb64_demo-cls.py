# LaPE: no input PE; a layer-wise PE, pos_l = LN'_l(pos_{l-1}), on every block's attention
# input; class token.
_base_ = ['./mpvg-vit-demo_mpvg_1xb64_demo-cls.py']
model = dict(backbone=dict(pe_mode='lape'))

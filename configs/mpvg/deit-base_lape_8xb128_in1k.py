# LaPE: no input PE; a layer-wise PE, pos_l = LN'_l(pos_{l-1}), on every block's attention
# input; class token.
_base_ = ['./deit-base_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_mode='lape'))

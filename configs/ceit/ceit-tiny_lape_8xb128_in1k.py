# LaPE: class token kept, no input PE; every block takes LN1(x) + LN'_l(pos_{l-1}) over
# the 197 PE rows (the class row included); the LCA reads the per-layer class tokens.
_base_ = ['./ceit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_mode='lape'))

# Default (DeiT): pos_0 added to the patch tokens at the input only; class token.
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_mode='default'))

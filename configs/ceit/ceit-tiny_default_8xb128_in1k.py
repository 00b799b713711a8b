# Default (the reference CeiT-Ti): class token, pos_0 added at the input only; the LCA
# reads the 12 per-layer class tokens.
_base_ = ['./ceit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_mode='default'))

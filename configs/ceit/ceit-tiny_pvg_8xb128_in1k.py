# PVG: no class token (nor its PE row), x_0 = tokens + pos_0, LN'(pos) on blocks 1..11;
# the LCA reads the 12 per-layer GAP tokens.
_base_ = ['./ceit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_mode='pvg'))

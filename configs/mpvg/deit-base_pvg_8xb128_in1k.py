# PVG: the input PE, then LaPE's layer-wise PE for blocks 1..L-1; no class token, GAP.
_base_ = ['./deit-base_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_mode='pvg'))

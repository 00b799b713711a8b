# PVG: the input PE, then LaPE's layer-wise PE for blocks 1..L-1; no class token, GAP.
_base_ = ['./mpvg-vit-demo_mpvg_1xb64_demo-cls.py']
model = dict(backbone=dict(pe_mode='pvg'))

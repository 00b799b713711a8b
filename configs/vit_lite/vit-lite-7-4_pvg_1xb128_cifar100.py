# PVG: the input PE, then LaPE's layer-wise PE for blocks 1..L-1; no class token, GAP.
_base_ = ['./vit-lite-7-4_mpvg_1xb128_cifar100.py']
model = dict(backbone=dict(pe_mode='pvg'))

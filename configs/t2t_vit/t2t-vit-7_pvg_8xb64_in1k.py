# PVG: no class token, x_0 = tokens + pos_0 (196 rows), LN' chain on blocks 1-6, GAP.
_base_ = ['./t2t-vit-7_mpvg_8xb64_in1k.py']
model = dict(backbone=dict(pe_mode='pvg'))

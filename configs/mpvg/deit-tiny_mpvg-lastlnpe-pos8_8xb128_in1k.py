# Which PE goes into the Last LN: LN''(pos_8) (paper: 73.38)
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_cfg=dict(last_ln_pos=8)))

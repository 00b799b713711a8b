# Which PE goes into the Last LN: LN''(pos_11) (paper: 73.30)
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_cfg=dict(last_ln_pos=11)))

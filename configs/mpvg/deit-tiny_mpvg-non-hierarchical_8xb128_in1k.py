# Table 6: pos_l = LN'_l(pos_0) instead of LN'_l(pos_{l-1}) (paper: 73.48)
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_cfg=dict(hierarchical=False)))

# Fig. 5: GAP + PE in the Last LN without layer-wise PE (paper: 72.14)
_base_ = ['./deit-tiny_default_8xb128_in1k.py']
model = dict(backbone=dict(with_cls_token=False, pe_cfg=dict(last_ln_pos=0)))

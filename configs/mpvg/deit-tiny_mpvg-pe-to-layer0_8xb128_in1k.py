# Table 6: layer-wise PE delivered to block 0 too (paper: 73.31)
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(pe_cfg=dict(layerwise_from=0)))

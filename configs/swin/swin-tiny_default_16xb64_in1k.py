# Default: mmpretrain's Swin-T with the absolute PE on (pos_0 added after the patch
# embedding) next to the relative position bias: the paper's Default (28.589 M).
_base_ = ['./swin-tiny_mpvg_16xb64_in1k.py']
model = dict(backbone=dict(pe_mode='default'))

# DeiT-S with MPVG on ImageNet-1K: deit-tiny_mpvg_8xb128_in1k.py at DeiT-S's size.
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(arch='deit-small'), head=dict(in_channels=384))

# DeiT-B with MPVG on ImageNet-1K: deit-tiny_mpvg_8xb128_in1k.py at DeiT-B's size.
_base_ = ['./deit-tiny_mpvg_8xb128_in1k.py']
model = dict(backbone=dict(arch='deit-base'), head=dict(in_channels=768))

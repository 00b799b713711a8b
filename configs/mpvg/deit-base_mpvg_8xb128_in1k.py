_base_ = [
    '../_base_/models/mpvg-vit_in1k.py', '../_base_/datasets/imagenet_bs128_deit.py',
    '../_base_/schedules/imagenet_bs1024_adamw_300e.py', '../_base_/default_runtime_cls.py'
]
model = dict(
    backbone=dict(arch='deit-base', pe_mode='mpvg'),
    head=dict(in_channels=768))

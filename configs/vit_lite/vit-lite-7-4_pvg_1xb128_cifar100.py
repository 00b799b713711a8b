_base_ = [
    '../_base_/models/mpvg-vit_in1k.py', '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/cifar100_bs128_adamw_310e.py', '../_base_/default_runtime_cls.py'
]
model = dict(
    backbone=dict(arch='vit-lite', pe_mode='pvg', img_size=32),
    head=dict(num_classes=100, in_channels=256))

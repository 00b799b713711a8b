# ImageClassifier(MPVGViT + LinearClsHead) with DeiT's training-time heads and augments
# (label smoothing 0.1, Mixup 0.8 / CutMix 1.0, drop path 0.1): the classifier of the
# paper's DeiT runs on ImageNet-1K and ViT-Lite runs on CIFAR-100. Leaves set
# backbone.arch / backbone.pe_mode / head.in_channels (and img_size, num_classes).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MPVGViT',
        arch='deit-tiny',
        pe_mode='mpvg',
        img_size=224,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=192,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)

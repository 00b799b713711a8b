# A small MPVGViT (4 blocks, 96 channels, 4x4 patches on 32x32 images) for the CPU demo.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MPVGViT',
        arch=dict(embed_dims=96, num_layers=4, num_heads=3, mlp_ratio=2.0, patch_size=4,
                  img_size=32),
        pe_mode='mpvg'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=96,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0)),
)

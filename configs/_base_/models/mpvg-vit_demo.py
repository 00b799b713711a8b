# A small MPVGViT for the CPU demo: 4 blocks, 128 channels, 4 heads, 8x8 patches (a 4x4
# grid on the 32x32 classification images; stride 8 on the 128x128 detection and
# segmentation scenes, where the same weights are fine-tuned).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MPVGViT',
        arch=dict(embed_dims=128, num_layers=4, num_heads=4, mlp_ratio=2.0, patch_size=8,
                  img_size=32),
        pe_mode='mpvg'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0)),
)

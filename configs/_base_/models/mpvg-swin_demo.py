# A small MPVGSwin for the CPU demo: 4 stages of 2 blocks, 32 -> 256 channels, 2x2
# patches and 4x4 windows (a 16x16 stage-1 grid on the 32x32 classification images,
# 64x64 on the 128x128 segmentation scenes, where the same weights are fine-tuned);
# stage grids smaller than the window are padded. GAP in the neck, as mmpretrain's Swin.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MPVGSwin',
        arch=dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[2, 2, 4, 8]),
        pe_mode='mpvg',
        img_size=32,
        patch_size=2,
        window_size=4,
        pad_small_map=True,
        drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0)),
)

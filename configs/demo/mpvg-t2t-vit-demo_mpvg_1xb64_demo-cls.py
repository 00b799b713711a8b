# CPU demo: a small MPVGT2TViT (the Performer T2T tokenizer, the fixed sinusoid PE, 4
# blocks of width 64) with MPVG on the generated position-dependent classification set
# (32x32 images: soft splits 32 -> 8 -> 4 -> 2x2 tokens), the demo's 30-epoch schedule.
_base_ = [
    '../_base_/datasets/demo_cls.py', '../_base_/schedules/demo_adamw_30e.py',
    '../_base_/default_runtime_cls.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MPVGT2TViT',
        arch=dict(embed_dims=64, num_layers=4, num_heads=2, token_dims=16, img_size=32),
        pe_mode='mpvg',
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0)),
)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=1))
randomness = dict(seed=0)

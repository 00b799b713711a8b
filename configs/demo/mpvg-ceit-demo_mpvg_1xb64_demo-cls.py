# CPU demo: a small MPVGCeiT with MPVG on the generated position-dependent classification
# set, the demo's 30-epoch schedule: 4 blocks of width 64, a 16-channel I2T stem and a 2x2
# token conv on its stride-4 map (a 4x4 token grid on the 32x32 images), the LCA over the
# 4 per-layer GAP tokens, mean_i LN''(pos_0)_i after the Last LN.
_base_ = [
    '../_base_/datasets/demo_cls.py', '../_base_/schedules/demo_adamw_30e.py',
    '../_base_/default_runtime_cls.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='MPVGCeiT',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, mlp_ratio=2.0, stem_channels=16,
                  patch_size=2, img_size=32),
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

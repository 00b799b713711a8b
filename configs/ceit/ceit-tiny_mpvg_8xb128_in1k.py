# CeiT-Ti with MPVG on ImageNet-1K, the paper's CeiT recipe (Table 7: the DeiT recipe,
# batch 1024 = 8 GPUs x 128) as the CeiT reference code (coeusguo/ceit main.py, DeiT's)
# runs it: the DeiT-Ti configs' data, schedule and runtime (effective lr 1e-3 = 5e-4 x
# 1024 / 512, wd 0.05, 5 warm-up epochs, cosine to 1e-5, 300 epochs, RepeatAugSampler x3,
# drop path 0.1, label smoothing 0.1, Mixup/CutMix; configs/README.md has the audit).
# MPVG in CeiT: no class token; the LCA reads per-layer GAP tokens; LN'(pos) on blocks
# 1..11; mean_i LN''(pos_0)_i added after the Last LN (MPVGCeiT's docstring).
# The other presets are thin configs on this one.
_base_ = [
    '../_base_/models/mpvg-vit.py', '../_base_/datasets/imagenet_bs128_deit.py',
    '../_base_/schedules/imagenet_bs1024_adamw_300e.py', '../_base_/default_runtime_cls.py'
]
model = dict(
    backbone=dict(_delete_=True, type='MPVGCeiT', arch='ceit-tiny', pe_mode='mpvg',
                  img_size=224, drop_path_rate=0.1),
    head=dict(in_channels=192))
# Test as the CeiT code evaluates (its datasets.py `build_transform`, DeiT's original):
# short side resized to 256 (bicubic), centre crop 224 (crop ratio 0.875), not the
# LaPE code's crop ratio 1.0 of the DeiT configs.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# The reference's model EMA (timm ModelEma, decay 0.99996, every iteration) averages the
# whole state dict, so CeiT's BN running statistics too (update_buffers=True; the ViT
# has no floating-point buffers). As for DeiT, validation and test run on the trained
# weights (evaluate_on_origin), the EMA weights are saved in `state_dict`.
custom_hooks = [
    dict(type='EMAHook', momentum=1 - 0.99996, update_buffers=True, priority='ABOVE_NORMAL',
         evaluate_on_ema=False, evaluate_on_origin=True)
]

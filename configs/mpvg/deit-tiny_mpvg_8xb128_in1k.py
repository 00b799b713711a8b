# DeiT-Ti with MPVG on ImageNet-1K, the paper's DeiT recipe (Table 7; batch 1024 =
# 8 GPUs x 128) as the DeiT code base runs it (configs/README.md has the value-by-value
# audit). MPVG: PVG plus LN''(pos_0) added after the Last LN, then GAP (Eq. 11).
# The other presets and sizes, and the ablations, are thin configs on this one.
_base_ = [
    '../_base_/models/mpvg-vit.py', '../_base_/datasets/imagenet_bs128_deit.py',
    '../_base_/schedules/imagenet_bs1024_adamw_300e.py', '../_base_/default_runtime_cls.py'
]
model = dict(backbone=dict(arch='deit-tiny', pe_mode='mpvg'), head=dict(in_channels=192))
# The model EMA of the DeiT code base (on by default, `--model-ema-decay` 0.99996, updated
# every iteration; the ViT has no floating-point buffers): mmengine's EMA keeps
# ema = (1 - momentum) * ema + momentum * param, so momentum = 1 - 0.99996 = 4e-5.
# Validation and test run on the trained (non-EMA) weights, as DeiT's main.py evaluates
# and reports them (mmpretrain's EMAHook, evaluate_on_origin). The checkpoints follow
# mmengine's convention: `state_dict` holds the EMA weights, `ema_state_dict` the trained
# ones (tools/test.py swaps them back; the dense configs load the trained ones with
# init_cfg=dict(type='MPVGPretrained', use_ema=False), as the references start from
# DeiT's released, non-EMA weights).
custom_hooks = [
    dict(type='EMAHook', momentum=1 - 0.99996, priority='ABOVE_NORMAL',
         evaluate_on_ema=False, evaluate_on_origin=True)
]

# T2T-ViT-7 with MPVG on ImageNet-1K, the paper's T2T-ViT recipe (Table 7; total batch
# 512 = 8 GPUs x 64) as the reference code runs it (configs/README.md has the audit).
# MPVG: no class token, x_0 = tokens + pos_0 (the fixed sinusoid for 196 positions),
# LN' chain on blocks 1-6, LN''(pos_0) added per token after the Last LN, then GAP.
# The other presets are thin configs on this one.
_base_ = [
    '../_base_/models/mpvg-t2t-vit.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_t2t_224.py',
    '../_base_/schedules/imagenet_bs512_adamw_t2t_310e.py',
    '../_base_/default_runtime_cls.py'
]
model = dict(backbone=dict(pe_mode='mpvg'))
# The model EMA of timm's train.py (`--model-ema`, decay 0.99996, every iteration):
# momentum = 1 - 0.99996. timm's train.py validates the EMA model and keeps its metric
# (eval_metrics = ema_eval_metrics), so validation runs on the EMA weights
# (mmpretrain's EMAHook default); the CIFAR-100 fine-tunes load them
# (MPVGPretrained use_ema=True: the reference's load_for_transfer_learning(use_ema=True)).
custom_hooks = [dict(type='EMAHook', momentum=1 - 0.99996, priority='ABOVE_NORMAL')]

# The paper's ViT-Lite recipe (Table 9: lr 6e-4, wd 0.06, batch 128, 300 + 10 epochs,
# 10 warm-up) as the Compact-Transformers code runs it (SHI-Labs/Compact-Transformers
# configs/datasets/cifar100.yml with timm's train.py): AdamW (betas 0.9/0.999, eps
# 1e-8), lr 6e-4 at batch 128 with no batch scaling, linear warm-up over 10 epochs from
# warmup_lr 1e-6 (start_factor = 1e-6 / 6e-4), cosine to min_lr 1e-5 at epoch 300, then
# 10 cooldown epochs at 1e-5 (310 in all). timm steps per epoch and runs its cosine over
# epochs 0-300 under the warm-up; here per iteration over epochs 10-300, the same end
# points. No EMA, no gradient clipping, no repeated augmentation (timm's defaults);
# AMP on in that config: pass --amp.
# Weight decay, as timm's create_optimizer_v2 applies it there: none on 1-D parameters
# (norms, biases, and the PE's LN' and LN''), decay on every other parameter. ViT-Lite
# declares no `no_weight_decay()`, so its positional embedding and class token are
# decayed; the paper states no exemption for them, so the code's rule stands.
_base_ = ['./imagenet_bs1024_adamw_300e.py']
optim_wrapper = dict(
    optimizer=dict(lr=6e-4, weight_decay=0.06),
    paramwise_cfg=dict(_delete_=True, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 6e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=300,
         convert_to_iter_based=True),
    # epochs 300-310: no scheduler, the lr stays at the cosine's end, 1e-5
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=10)
auto_scale_lr = dict(base_batch_size=128)

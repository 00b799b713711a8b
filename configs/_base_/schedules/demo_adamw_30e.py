# The paper's DeiT recipe shortened for the CPU demo: AdamW lr 2e-3 at batch 64, wd 0.05,
# the no-weight-decay rules, 1 warm-up epoch, cosine over 30 epochs.
_base_ = ['./imagenet_bs1024_adamw_300e.py']
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
auto_scale_lr = dict(base_batch_size=64)

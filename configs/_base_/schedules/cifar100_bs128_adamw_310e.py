# The paper's ViT-Lite recipe (Table 9): AdamW lr 6e-4, wd 0.06, batch 128, 310 epochs,
# 10 warm-up epochs, cosine. No weight decay on PE, its LNs, norms and biases.
_base_ = ['./imagenet_bs1024_adamw_300e.py']
optim_wrapper = dict(optimizer=dict(lr=6e-4, weight_decay=0.06))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10),
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=10)
auto_scale_lr = dict(base_batch_size=128)

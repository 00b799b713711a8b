# The paper's DeiT recipe (Table 7): AdamW lr 5e-4 at a total batch of 1024, wd 0.05,
# 5 warm-up epochs, cosine to 300 epochs; no weight decay on the PE, its LNs, norms,
# biases and the class token (adamw_no-decay-pe-norm-bias.py). `--auto-scale-lr`
# rescales the lr linearly for another total batch size. (mmpretrain's DeiT configs,
# on imagenet_bs1024_adamw_swin.py, differ: lr 1e-3 at 1024, 20 warm-up epochs, grad
# clipping.)
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(optimizer=dict(lr=5e-4, weight_decay=0.05, eps=1e-8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

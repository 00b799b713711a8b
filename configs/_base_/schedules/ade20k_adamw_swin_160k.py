# mmseg's Swin-T UperNet recipe (mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_
# 8xb2-160k_ade20k-512x512.py): AdamW lr 6e-5, wd 0.01, total batch 16, 160k iterations,
# 1500-iteration linear warm-up, then poly decay (power 1.0) to 0. No weight decay on the
# APE, the relative position bias tables, the PE's LN' and LN'', norms and biases
# (adamw_no-decay-pe-norm-bias.py).
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=6e-5, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=160000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)

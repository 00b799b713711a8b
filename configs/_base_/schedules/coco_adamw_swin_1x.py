# mmdet's Swin-T Mask R-CNN recipe (mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py):
# AdamW lr 1e-4, wd 0.05, total batch 16, 12 epochs, lr / 10 after epochs 8 and 11,
# 1000-iteration linear warm-up. No weight decay on the APE, the relative position bias
# tables, the PE's LN' and LN'', norms and biases (adamw_no-decay-pe-norm-bias.py).
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=1e-4, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)

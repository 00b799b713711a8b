# The paper's COCO recipe for Mask R-CNN + ViT-Adapter-Ti (Table 9): AdamW, lr 1e-4,
# weight decay 0.05, total batch 8, 3x schedule = 36 epochs with the lr divided by 10
# after epochs 27 and 33, linear warm-up over the first 500 iterations.
# `--auto-scale-lr` rescales the lr linearly for another total batch size.
#
# No weight decay on the PE, its LNs, the class token (if any), the adapter's level
# embedding, norms, biases and other 1-D parameters (adamw_no-decay-pe-norm-bias.py).
# The constructor is LayerDecayOptimWrapperConstructor with a decay rate of 1.0 (the
# paper reports none for detection): every parameter gets the base lr; set
# paramwise_cfg.layer_decay_rate < 1 to try layer-wise decay.
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=36, milestones=[27, 33],
         gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=36, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=8)

# The paper's ADE20K recipe for UperNet + ViT-Adapter-Ti (Table 9): AdamW lr 12e-5,
# wd 0.01, total batch 8, 160k iterations, 1500-iteration linear warm-up, then poly decay
# (power 1.0) to 0. Layer-wise lr decay 0.95 over the ViT's 12 blocks (ViT-Adapter-Ti's
# rate; the adapter, neck and heads get the full lr), via mpvg_mm's
# LayerDecayOptimWrapperConstructor. No weight decay on the PE, its LNs, the class
# token, the adapter's level embedding, norms, biases and other 1-D parameters
# (adamw_no-decay-pe-norm-bias.py).
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(lr=12e-5, weight_decay=0.01),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.95))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=160000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# `tools/train.py --auto-scale-lr` rescales the lr linearly for another total batch size
auto_scale_lr = dict(enable=False, base_batch_size=8)

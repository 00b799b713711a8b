# mmseg's recipe for UperNet on a plain DeiT (configs/vit/vit_deit-s16_*_upernet_8xb2-160k):
# AdamW lr 6e-5, wd 0.01, 160k iterations, 1500-iteration linear warm-up, then poly decay
# (power 1.0) to 0, total batch 16 (8 GPUs x 2). mmseg's DeiT configs use no layer-wise
# lr decay; we add 0.65 over the 12 blocks, the rate of mmseg's ViT (MAE/BEiT) UperNet
# recipes (set layer_decay_rate=1.0 for mmseg's DeiT setting exactly). The neck and heads
# get the full lr. No weight decay on pos_0, the PE's LNs, the class token, norms, biases.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.65,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={
            'backbone.pos_embed': dict(decay_mult=0.0),
            'backbone.cls_token': dict(decay_mult=0.0),
            'backbone.pe.': dict(decay_mult=0.0),
        }),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=160000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)

# mmseg's recipe for UperNet on a plain DeiT (configs/vit/vit_deit-s16_*_upernet_8xb2-160k):
# the paper's ADE20K schedule (160k iterations, 1500-iteration warm-up, poly decay, the same
# no-weight-decay rules) with mmseg's lr 6e-5 at a total batch of 16 (8 GPUs x 2) and, as
# mmseg's DeiT configs, no layer-wise lr decay.
_base_ = ['./ade20k_adamw_160k.py']
optim_wrapper = dict(optimizer=dict(lr=6e-5), paramwise_cfg=dict(layer_decay_rate=1.0))
auto_scale_lr = dict(base_batch_size=16)

# mmseg's Swin-T UperNet recipe (mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_
# 8xb2-160k_ade20k-512x512.py): the paper's ADE20K schedule (ade20k_adamw_160k.py: 160k
# iterations, 1500-iteration linear warm-up, poly decay to 0) with mmseg's Swin lr 6e-5,
# wd 0.01 at a total batch of 16, and no layer-wise lr decay (rate 1.0). No weight decay
# on the APE, the relative position bias tables, the PE's LN' and LN'', norms and biases
# (adamw_no-decay-pe-norm-bias.py).
_base_ = ['./ade20k_adamw_160k.py']
optim_wrapper = dict(optimizer=dict(lr=6e-5, weight_decay=0.01),
                     paramwise_cfg=dict(layer_decay_rate=1.0))
auto_scale_lr = dict(base_batch_size=16)

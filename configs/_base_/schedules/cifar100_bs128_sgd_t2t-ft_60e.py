# The T2T-ViT CIFAR-100 fine-tune (the paper's Table 2 / Table 9 row: SGD lr 5e-2, wd
# 5e-4, batch 128, 60 epochs, cosine, no warm-up) as the reference runs it
# (yitu-opensource/T2T-ViT transfer_learning.py): SGD momentum 0.9, weight decay 5e-4 on
# every parameter it trains; the head at lr 0.05, `tokens_to_token` and `blocks` at
# transfer_ratio 0.01 x 0.05. Parameters outside those groups (cls_token, pos_embed, the
# Last LN `norm`) are not in its optimizer: the configs build them frozen
# (backbone.frozen_params; an lr_mult of 0 would not do, since the cosine's absolute
# eta_min lifts a zero lr to 2e-4). The PE's LNs, which the reference has not (the paper
# is silent): LN'_l belong to their blocks (LaPE's code keeps them
# in blocks.{i}.pe_norm), so 0.01x; LN'' sits next to the Last LN, so it stays frozen as
# the Last LN does. CosineAnnealingLR(T_max=60, eta_min=2e-4) stepped per epoch, eta_min
# absolute for every group (PyTorch's and mmengine's rule): the 0.01x groups go from 5e-4
# to 2e-4, the head from 0.05 to 2e-4.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        custom_keys={
            'backbone.tokens_to_token': dict(lr_mult=0.01),
            'backbone.blocks': dict(lr_mult=0.01),
            'backbone.pe.layer_norms': dict(lr_mult=0.01),
        }))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=60, eta_min=2e-4, by_epoch=True, begin=0, end=60)
]
train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)

# The paper's T2T-ViT recipe (Table 7: AdamW lr 1e-3, wd 0.03, batch 512, 300 + 10 epochs,
# 10 warm-up) as the reference code runs it (yitu-opensource/T2T-ViT main.py, timm's
# train.py, README: 4 GPUs x 128, `--lr 1e-3 --weight-decay .03`): AdamW (betas
# 0.9/0.999, eps 1e-8), lr 1e-3 at the total batch 512 with no batch scaling, linear
# warm-up over 10 epochs from warmup_lr 1e-6 (start_factor = 1e-6 / 1e-3), cosine to
# min_lr 1e-5 at epoch 300, then 10 cooldown epochs at 1e-5 (timm's cooldown stays at
# min_lr; mmpretrain's T2T schedule drops to 1e-4 instead, not used here). timm steps per
# epoch and runs its cosine over epochs 0-300 under the warm-up; here per iteration over
# epochs 10-300, the same end points. No gradient clipping; AMP on there: pass --amp.
# Weight decay: none on cls_token (T2T_ViT.no_weight_decay()) and 1-D parameters (timm);
# the inherited rule adds the PE and its LN'/LN'' (pos_embed is the fixed sinusoid,
# frozen, unless learnable_pe=True).
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.03, eps=1e-8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 1e-3, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=300,
         convert_to_iter_based=True),
    # epochs 300-310: no scheduler, the lr stays at the cosine's end, 1e-5
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)

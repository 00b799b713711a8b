# The paper's Swin recipe (Table 7; Swin's own): the DeiT schedule
# (imagenet_bs1024_adamw_300e.py: AdamW, wd 0.05, cosine to 300 epochs, batch 1024) with
# lr 1e-3, 20 warm-up epochs and gradient clipping at 5. No weight decay on the APE pos_0,
# the relative position bias tables, the PE's LN' and LN'', norms and biases
# (adamw_no-decay-pe-norm-bias.py). (mmpretrain's imagenet_bs1024_adamw_swin.py has the
# same numbers, spells its own no-decay keys and steps the cosine per epoch; Swin's
# main.py steps it per iteration, as here.) Swin's warm-up and end lr (WARMUP_LR 5e-7,
# MIN_LR 5e-6) are scaled by total batch / 512 like its base lr (main.py): 1e-6 and 1e-5
# at 1024. Both are written relative to the lr (start_factor, eta_min_ratio), so
# `--auto-scale-lr` scales them with it, as Swin's main.py does at any batch.
_base_ = ['./imagenet_bs1024_adamw_300e.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-5 / 1e-3, by_epoch=True, begin=20, end=300,
         convert_to_iter_based=True),
]

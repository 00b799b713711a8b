# The paper's Swin recipe (Table 7; Swin's own): the DeiT schedule
# (imagenet_bs1024_adamw_300e.py: AdamW, wd 0.05, cosine to 300 epochs, batch 1024) with
# lr 1e-3, 20 warm-up epochs and gradient clipping at 5. No weight decay on the APE pos_0,
# the relative position bias tables, the PE's LN' and LN'', norms and biases
# (adamw_no-decay-pe-norm-bias.py). (mmpretrain's imagenet_bs1024_adamw_swin.py has the
# same numbers and spells its own no-decay keys.)
_base_ = ['./imagenet_bs1024_adamw_300e.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20),
]

# The paper's Swin recipe (Table 7; Swin's own): AdamW lr 1e-3 at a total batch of 1024,
# wd 0.05, 20 warm-up epochs, cosine to 300 epochs, gradient clipping at 5. No weight
# decay on the APE pos_0, the relative position bias tables, the PE's LN' and LN'', norms
# and biases (adamw_no-decay-pe-norm-bias.py). `--auto-scale-lr` rescales the lr linearly
# for another total batch size. (mmpretrain's imagenet_bs1024_adamw_swin.py has the same
# numbers and spells its own no-decay keys.)
_base_ = ['./adamw_no-decay-pe-norm-bias.py']
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05, eps=1e-8),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)

# UperNet on MPVGSwin-T (MPVG) on ADE20K, mmseg's Swin-T recipe (AdamW 6e-5, wd 0.01,
# batch 16 = 8 GPUs x 2, 160k iterations at 512x512, whole-image test). Not in the paper.
_base_ = [
    '../_base_/models/upernet_mpvg-swin-t.py', 'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/ade20k_adamw_swin_160k.py', '../_base_/default_runtime_seg.py'
]
model = dict(backbone=dict(init_cfg=dict(
    type='MPVGPretrained', checkpoint='work_dirs/swin-tiny_mpvg_16xb64_in1k/epoch_300.pth',
    prefix='backbone.', use_ema=False)))
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader

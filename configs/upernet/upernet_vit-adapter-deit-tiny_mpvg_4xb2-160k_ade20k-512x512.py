# UperNet + ViT-Adapter-Ti on ADE20K, 160k iterations at 512x512, total batch 8 (4 GPUs x 2),
# the paper's Table 4 setting, with the DeiT-Ti pretrained with the 'mpvg' PE structure.
_base_ = [
    '../_base_/models/upernet_vit-adapter-deit-tiny.py', 'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/ade20k_adamw_160k.py', '../_base_/default_runtime_seg.py'
]
model = dict(
    backbone=dict(
        pe_mode='mpvg',
        # point this to your checkpoint of configs/mpvg/deit-tiny_mpvg_8xb128_in1k.py
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/deit-tiny_mpvg_8xb128_in1k/epoch_300.pth',
            prefix='backbone.')),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
train_dataloader = dict(batch_size=2)

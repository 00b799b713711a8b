# UperNet + ViT-Adapter-Ti on ADE20K, 160k iterations at 512x512, total batch 8 (4 GPUs x
# 2): the paper's Table 4 setting, the backbone initialised from the DeiT-Ti MPVG
# classifier. MPVG: PVG plus LN''(pos_0) added after the Last LN (here at the stride-16
# output). The recipe, value by value against the official ViT-Adapter config:
# configs/README.md.
_base_ = [
    '../_base_/models/upernet_vit-adapter-deit-tiny.py', 'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/ade20k_adamw_160k_vit-adapter.py', '../_base_/default_runtime_seg.py'
]
train_dataloader = dict(batch_size=2)
# The official test pipeline: short side 512 (long side <= 2048), then both sides
# resized to multiples of 32 (ResizeToMultiple), sliding 512x512 windows (the model's
# test_cfg); the prediction is resized to the original image, where it is scored.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

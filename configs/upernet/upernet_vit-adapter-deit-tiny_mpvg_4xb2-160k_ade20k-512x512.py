# UperNet + ViT-Adapter-Ti on ADE20K, 160k iterations at 512x512, total batch 8 (4 GPUs x
# 2): the paper's Table 4 setting, the backbone initialised from the DeiT-Ti MPVG
# classifier. MPVG: PVG plus LN''(pos_0) added after the Last LN (here at the stride-16
# output).
_base_ = [
    '../_base_/models/upernet_vit-adapter-deit-tiny.py', 'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/ade20k_adamw_160k.py', '../_base_/default_runtime_seg.py'
]
train_dataloader = dict(batch_size=2)

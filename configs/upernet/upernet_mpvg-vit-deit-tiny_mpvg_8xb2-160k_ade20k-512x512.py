# UperNet on a plain DeiT-Ti (MultiLevelNeck, as mmseg's DeiT UperNet) on ADE20K, 160k
# iterations at 512x512, total batch 16 (8 GPUs x 2), mmseg's DeiT recipe, the backbone
# initialised from the DeiT-Ti MPVG classifier. Not in the paper.
_base_ = [
    '../_base_/models/upernet_mpvg-vit-deit-tiny.py', 'mmseg::_base_/datasets/ade20k.py',
    '../_base_/schedules/ade20k_adamw_160k_vit.py', '../_base_/default_runtime_seg.py'
]
train_dataloader = dict(batch_size=2)

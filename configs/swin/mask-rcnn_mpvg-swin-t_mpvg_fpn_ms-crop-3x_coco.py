# Mask R-CNN + FPN on MPVGSwin-T (MPVG), mmdet's Swin-T 3x + multi-scale-crop recipe
# (36 epochs, lr / 10 after epochs 27 and 33). Not in the paper.
_base_ = [
    '../_base_/models/mask-rcnn_mpvg-swin-t_fpn.py',
    '../_base_/datasets/coco_instance_swin_ms-crop.py',
    '../_base_/schedules/coco_adamw_swin_1x.py', '../_base_/default_runtime_det.py'
]
train_dataloader = dict(batch_size=2)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=36, milestones=[27, 33], gamma=0.1),
]
train_cfg = dict(max_epochs=36)

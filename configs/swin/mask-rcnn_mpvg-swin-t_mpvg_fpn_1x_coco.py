# Mask R-CNN + FPN on MPVGSwin-T (MPVG), mmdet's Swin-T 1x recipe (AdamW 1e-4, wd 0.05,
# batch 16, 12 epochs, single scale). Not in the paper. The other presets extend this
# config and point the checkpoint at their classifier; point it at your own file with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/mask-rcnn_mpvg-swin-t_fpn.py', 'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/coco_adamw_swin_1x.py', '../_base_/default_runtime_det.py'
]
train_dataloader = dict(batch_size=2)

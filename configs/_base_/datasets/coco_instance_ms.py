# COCO 2017 instance segmentation: mmdet's coco_instance.py (validation and test at one
# scale, short side 800, long side <= 1333; 2 images per GPU, 4 GPUs x 2 = the paper's
# total of 8; on 8 GPUs set train_dataloader.batch_size=1, or keep 2 and pass
# --auto-scale-lr) with the multi-scale training of ViT-Adapter's Mask R-CNN 3x+MS
# recipe (the setting of the paper's Table 3).
#
# Training, per image: horizontal flip (p=0.5), then one of two branches, chosen with
# equal probability:
#   a) resize (aspect kept) to a random short side in 480, 512, ..., 800 (long side
#      capped at 1333);
#   b) resize to a short side of 400/500/600, crop a random window of 384..600 px
#      per side (objects are cut at its border; a window may hold none and then
#      trains as a negative), then the resize of branch a);
# then a random window of at most 1024x1024.
_base_ = ['mmdet::_base_/datasets/coco_instance.py']
train_scales = [(1333, short) for short in range(480, 801, 32)]
crop_scales = [(1333, 400), (1333, 500), (1333, 600)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=crop_scales, keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
            ],
        ]),
    # then a random 1024x1024 window (smaller images are kept whole): the official
    # recipe's last crop (czczup/ViT-Adapter detection/configs/mask_rcnn/
    # mask_rcnn_deit_adapter_tiny_fpn_3x_coco.py), the paper's "crop 1024"
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=(1024, 1024),
         allow_negative_crop=True),
    # drop instances the crops reduced to slivers
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

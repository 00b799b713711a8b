# COCO instance segmentation with the multi-scale + random-crop training of mmdet's Swin
# 3x configs (mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py, from DETR /
# Sparse R-CNN): short side 480-800 (long side <= 1333), or 400-600 then a 384-600 crop
# then 480-800; test at 1333x800 as mmdet's coco_instance.py.
_base_ = ['mmdet::_base_/datasets/coco_instance.py']
scales = [(s, 1333) for s in range(480, 801, 32)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales=scales, keep_ratio=True)],
        [dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
              keep_ratio=True),
         dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
              allow_negative_crop=True),
         dict(type='RandomChoiceResize', scales=scales, keep_ratio=True)],
    ]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

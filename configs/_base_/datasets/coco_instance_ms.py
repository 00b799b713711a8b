# COCO 2017 instance segmentation with the multi-scale training of ViT-Adapter's
# Mask R-CNN 3x+MS recipe (the setting of the paper's Table 3).
#
# Training, per image: horizontal flip (p=0.5), then one of two branches, chosen with
# equal probability:
#   a) resize (aspect kept) to a random short side in 480, 512, ..., 800 (long side
#      capped at 1333);
#   b) resize to a short side of 400/500/600, crop a random window of 384..600 px
#      per side (objects are cut at its border; a window may hold none and then
#      trains as a negative), then the resize of branch a).
# Test: one scale, short side 800, long side <= 1333.
# Batch: 2 images per GPU; 4 GPUs x 2 = the paper's total of 8 (on 8 GPUs set
# train_dataloader.batch_size=1, or keep 2 and pass --auto-scale-lr).
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
backend_args = None

train_scales = [(1333, short) for short in range(480, 801, 32)]
crop_scales = [(1333, 400), (1333, 500), (1333, 600)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
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
    # drop instances the crop reduced to slivers
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # the annotations are only needed by the evaluator; drop this line for test-dev
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric=['bbox', 'segm'],
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator

# The generated ADE20K-layout scenes (tools/make_demo_data.py OUT --formats ade20k):
# 128x128 images/{training,validation}/*.jpg and annotations/*/*.png with 0 = background
# and shape c stored as c + 1. mmseg's ADE20KDataset only accepts ADE's own 150 class
# names, so the generic BaseSegDataset reads the same files; reduce_zero_label=True
# ignores the background (255) and maps the shapes to 0..3. Light augmentation only.
dataset_type = 'BaseSegDataset'
data_root = 'data/demo/ade20k'
# mpvg_mm.datasets.demo_scenes.SHAPES / SHAPE_PALETTE (configs are plain text: copied here)
classes = ('circle', 'square', 'triangle', 'cross')
palette = [[220, 20, 60], [0, 130, 200], [255, 200, 0], [60, 180, 75]]
metainfo = dict(classes=classes, palette=palette)
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=metainfo,
        pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=metainfo,
        pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

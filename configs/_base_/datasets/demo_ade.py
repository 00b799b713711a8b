# The generated ADE20K-layout scenes (tools/make_demo_data.py OUT --formats ade20k):
# 128x128 images/{training,validation}/*.jpg and annotations/*/*.png with 0 = background
# and shape c stored as c + 1. mmseg's ADE20KDataset only accepts ADE's own 150 class
# names, so the generic BaseSegDataset reads the same files; reduce_zero_label=True
# ignores the background (255) and maps the shapes to 0..3. Light augmentation only.
# DemoSegDataset is that BaseSegDataset reading the class names (the 4 shapes, labels
# 0..3) from the file the generator wrote, relative to data_root; building it without
# that file fails with an error naming it (mpvg_mm/demo/datasets.py).
dataset_type = 'DemoSegDataset'
data_root = 'data/demo/ade20k'
metainfo = dict(classes='classes.txt')
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

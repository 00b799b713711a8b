# The generated ADE20K-layout scenes (tools/make_demo_data.py OUT --formats ade20k):
# 128x128 images/{training,validation}/*.jpg and annotations/*/*.png with 0 = background
# and shape c stored as c + 1: mmseg's ade20k.py (layout, samplers, mIoU) with light
# augmentation only, 8 images per batch and no loader workers. mmseg's ADE20KDataset only
# accepts ADE's own 150 class names; DemoSegDataset is mmseg's generic BaseSegDataset
# reading the class names (the 4 shapes) from the file the generator wrote, relative to
# data_root (building it without that file fails with an error naming it).
# reduce_zero_label=True ignores the background (255) and maps the shapes to 0..3.
_base_ = ['mmseg::_base_/datasets/ade20k.py']
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
    persistent_workers=False,  # as there are no workers
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=metainfo,
        pipeline=train_pipeline),
)
# the same files and settings, the validation split (mmseg's data_prefix) and test pipeline
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(train_dataloader['dataset'], pipeline=test_pipeline))
test_dataloader = val_dataloader

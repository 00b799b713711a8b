# The generated COCO-layout demo set (tools/make_demo_data.py OUT --formats coco):
# 128x128 scenes of 1..3 shapes with boxes and polygon masks, 200 train / 50 val images
# by default: mmdet's coco_instance.py with one scale (128), flips only, 8 images per
# batch and no loader workers. DemoCocoDataset is mmdet's CocoDataset reading the class
# names (the 4 shapes, in category id order) from the file the generator wrote, relative
# to data_root (building it without that file fails with an error naming it).
_base_ = ['mmdet::_base_/datasets/coco_instance.py']
dataset_type = 'DemoCocoDataset'
data_root = 'data/demo/coco/'
metainfo = dict(classes='classes.txt')
img_scale = (128, 128)
backend_args = {{_base_.backend_args}}

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,  # as there are no workers
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo, filter_cfg=dict(min_size=8),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

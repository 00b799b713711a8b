# The generated position-dependent classification set (tools/make_demo_data.py): one
# shape per 32x32 image, label = shape x (left/right half). No flips: a flip would swap
# the label.
# DemoCustomDataset is mmpretrain's CustomDataset reading the class names (the 8 shape x
# side names, in label order) from the file the generator wrote, relative to data_root;
# building it without that file fails with an error naming it (mpvg_mm/demo/datasets.py).
dataset_type = 'DemoCustomDataset'
data_root = 'data/demo/imagenet'
classes = 'meta/classes.txt'
data_preprocessor = dict(
    num_classes=8,  # the lines of meta/classes.txt
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
# any image size at test time, as mmpretrain's test pipelines: short side to 32, centre
# crop (identities on the 32x32 demo images)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=32, edge='short'),
    dict(type='CenterCrop', crop_size=32),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,  # as there are no workers (mmpretrain's train.py sets True)
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', metainfo=dict(classes=classes), pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
# the same files and settings, the val split in order
val_dataloader = dict(
    train_dataloader,
    dataset=dict(train_dataloader['dataset'], ann_file='meta/val.txt', data_prefix='val',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

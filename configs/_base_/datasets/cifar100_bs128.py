# CIFAR-100 at 32x32 for ViT-Lite (the paper's Table 9 setting: batch 128): mmpretrain's
# CIFAR-100 data (normalisation, random crop with padding 4, flips) plus RandAugment as
# in the paper's ViT-Lite recipe, and top-5 accuracy.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
data_root = 'data/cifar100'
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5, hparams=dict(pad_val=[104, 116, 124])),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, num_workers=4, dataset=dict(data_root=data_root))
val_evaluator = dict(topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# CIFAR-100 at 32x32 for ViT-Lite, batch 128 (the paper's Table 9), with the augmentation
# of the Compact-Transformers recipe (configs/datasets/cifar100.yml, timm's transforms):
# RandomResizedCrop to 32 with scale 0.8-1.0 (timm draws bilinear or bicubic at random,
# `train_interpolation: random`; bicubic here), horizontal flip, RandAugment
# rand-m9-mstd0.5-inc1 (filled with the CIFAR mean), random erasing 0.25 per-pixel
# (timm's `remode: pixel`: normal noise in the normalised space), CIFAR-100 mean/std;
# Mixup 0.8 / CutMix 1.0 and label smoothing 0.1 sit in the model. Test: the 32x32 image
# as it is (timm's resize to 32 / crop_pct 1.0 and centre crop 32 change nothing).
# mmpretrain's CIFAR-100 data otherwise, plus top-5 accuracy.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
data_root = 'data/cifar100'
rgb_mean = [129.304, 124.070, 112.434]  # CIFAR images load as RGB
rgb_std = [68.170, 65.392, 70.418]
train_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.8, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in rgb_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=rgb_mean, fill_std=rgb_std),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, num_workers=4, dataset=dict(data_root=data_root))
val_evaluator = dict(topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# ImageNet-1K with DeiT's augmentation: mmpretrain's DeiT/Swin data (RandomResizedCrop
# 224 bicubic, flip, RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25 per-pixel;
# Mixup/CutMix sit in the model's train_cfg), at 128 images per GPU (8 GPUs make the
# paper's batch of 1024) and 8 loader workers.
# Test as the LaPE code base evaluates (Ingrid725/LaPE datasets.py `build_transform`:
# crop ratio 1.0, "deit III crop ratio"): short side resized to 224 (bicubic), centre crop
# 224. The original DeiT resizes to 256 first (crop ratio 0.875); the paper builds on
# LaPE's code, so its protocol stands here.
# Repeated augmentation as that code base runs it by default (`--repeated-aug`, RASampler
# with 3 repeats: each image three times per epoch, on different GPUs, an epoch as long as
# one pass over the data): mmpretrain's RepeatAugSampler.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py']
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128, num_workers=8,
    drop_last=True,  # DeiT's training loader drops the last, incomplete batch
    sampler=dict(_delete_=True, type='RepeatAugSampler', num_repeats=3, shuffle=True))
val_dataloader = dict(batch_size=128, num_workers=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

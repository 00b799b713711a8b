# ImageNet-1K with DeiT's augmentation: mmpretrain's DeiT/Swin data as it is
# (RandomResizedCrop 224 bicubic, flip, RandAugment rand-m9-mstd0.5-inc1, random erasing
# 0.25 per-pixel; test: short side 256 bicubic, centre crop 224 (DeiT's crop ratio
# 0.875); Mixup/CutMix sit in the model's train_cfg), at 128 images per GPU (8 GPUs make
# the paper's batch of 1024) and 8 loader workers.
# Repeated augmentation as the DeiT code base runs it by default (`--repeated-aug`,
# RASampler with 3 repeats: each image three times per epoch, on different GPUs, and an
# epoch as long as one pass over the data): mmpretrain's RepeatAugSampler.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py']
train_dataloader = dict(
    batch_size=128, num_workers=8,
    sampler=dict(_delete_=True, type='RepeatAugSampler', num_repeats=3, shuffle=True))
val_dataloader = dict(batch_size=128, num_workers=8)
test_dataloader = val_dataloader

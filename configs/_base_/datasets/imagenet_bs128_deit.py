# ImageNet-1K with DeiT's augmentation (RandAugment, random erasing 0.25; Mixup/CutMix sit
# in the model's train_cfg): mmpretrain's DeiT/Swin data as it is, at 128 images per GPU
# (8 GPUs make the paper's batch of 1024) and 8 loader workers.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py']
train_dataloader = dict(batch_size=128, num_workers=8)
val_dataloader = dict(batch_size=128, num_workers=8)
test_dataloader = val_dataloader

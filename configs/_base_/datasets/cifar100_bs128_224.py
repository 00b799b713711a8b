# CIFAR-100 resized to 224, batch 128, as the T2T-ViT reference fine-tunes on it
# (yitu-opensource/T2T-ViT transfer_learning.py, the paper's Table 2 row): train
# Resize(224) (torchvision's bilinear), RandomCrop(224, padding=28, zero fill), horizontal
# flip, CIFAR-100 mean/std; test Resize(224). No other augmentation. mmpretrain's
# CIFAR-100 data otherwise, plus top-5 accuracy.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']
train_pipeline = [
    dict(type='Resize', scale=224, backend='pillow', interpolation='bilinear'),
    dict(type='RandomCrop', crop_size=224, padding=28),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=224, backend='pillow', interpolation='bilinear'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, num_workers=4, dataset=dict(pipeline=test_pipeline))
val_evaluator = dict(topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

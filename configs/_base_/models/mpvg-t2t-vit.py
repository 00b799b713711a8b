# ImageClassifier(MPVGT2TViT T2T-ViT-7 + LinearClsHead) with the training-time heads and
# augments of the reference's ImageNet recipe (T2T-ViT main.py, timm's train.py: label
# smoothing 0.1, Mixup 0.8 / CutMix 1.0, drop path 0.1). Leaves set backbone.pe_mode
# (and num_classes, the loss and augments for fine-tuning).
_base_ = ['./mpvg-vit.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MPVGT2TViT',
        arch='t2t-vit-7',
        pe_mode='mpvg',
        img_size=224,
        drop_path_rate=0.1),
    head=dict(in_channels=256))

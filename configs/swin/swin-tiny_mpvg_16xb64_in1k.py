# Swin-T with MPVG on ImageNet-1K, the paper's Swin recipe (Table 7: AdamW lr 1e-3 at a
# total batch of 1024 = 16 GPUs x 64, wd 0.05, 20 warm-up epochs, cosine, 300 epochs,
# clip 5) with mmpretrain's Swin-T model (drop path 0.2, label smoothing 0.1,
# Mixup 0.8 / CutMix 1.0) and data (RandAugment, random erasing 0.25).
# MPVG in Swin: the layer-wise PE from block 0 on (the paper's Swin exception), merged
# between stages by the tokens' PatchMerging, plus LN''(P) after the last norm, P = pos_0
# merged to stage 4. The other presets are thin configs on this one.
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/tiny_224.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin_300e.py',
    '../_base_/default_runtime_cls.py'
]
model = dict(backbone=dict(type='MPVGSwin', pe_mode='mpvg'))

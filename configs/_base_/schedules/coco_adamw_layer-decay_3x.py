# Schedule of the plain-ViT (ViTDet-style, SimpleFeaturePyramid) Mask R-CNN variants:
# the ViT-Adapter recipe of coco_adamw_3x.py (AdamW lr 1e-4, wd 0.05, batch 8, 36
# epochs, steps at 27/33, 500 warm-up iterations, the same no-decay rules) plus
# ViTDet's layer-wise lr decay. Our choice, not the paper's: 36 epochs keep the plain
# and adapter variants on one data budget and data pipeline; the decay rate 0.9 is
# milder than ViTDet's 0.7 for ViT-B because DeiT-Ti is small.
# With 12 blocks (14 depths): lr = 1e-4 * 0.9 ** (13 - depth), i.e. patch embedding
# and pos_0 at 0.9**13 = 0.25x, block i at 0.9**(12 - i), the Last LN, LN'', neck and
# heads at 1x.
_base_ = ['./coco_adamw_3x.py']
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))

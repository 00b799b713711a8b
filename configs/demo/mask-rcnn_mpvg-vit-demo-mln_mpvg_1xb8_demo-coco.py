# CPU demo: a tiny Mask R-CNN on the generated COCO-layout scenes, its backbone the demo
# classifier's MPVGViT (configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py: 4 blocks, 128
# channels, 8x8 patches, pe_mode='mpvg') and initialised from its checkpoint.
#
# On the 128x128 scenes the ViT sees a 16x16 patch grid (stride 8); its pos_0, stored
# at the classifier's 4x4 grid, is resampled (bicubic) to 16x16 before the LN' chain.
# As in the demo segmentor, each block's stride-8 map goes to mmseg's MultiLevelNeck
# (scales 2/1/0.5/0.25 -> strides 4/8/16/32, the four levels of the RPN and RoI heads),
# so the stride-4 level, where RoIAlign reads every demo object, comes from the
# shallowest block. The last map alone after the classifier's final LN (this neck, or
# final_norm='ln+pe' in ViTDet's pyramid) trained the RoI heads poorly at this scale in
# an earlier measurement: 0.01-0.03 bbox mAP after the same schedule (RPN fine, RoI
# heads stuck at predicting background), while block 2's or block 3's map before that
# LN gave 0.62. The last-block-only structure of the mask_rcnn/ plain-ViT configs is
# mask-rcnn_mpvg-vit-demo-sfp_mpvg_1xb8_demo-coco.py (the README's final_norm study).
# Heads are slimmed to 64 channels and fewer proposals.
#
#   python tools/make_demo_data.py data/demo --formats imagenet,coco
#   python tools/train.py configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py \
#       --work-dir work_dirs/demo_cls_mpvg
#   python tools/train.py configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py
# From scratch instead: --cfg-options model.backbone.init_cfg=None
_base_ = [
    '../_base_/models/mask-rcnn_mpvg-vit.py', '../_base_/datasets/demo_coco.py',
    '../_base_/schedules/coco_adamw_3x.py', '../_base_/default_runtime_det.py'
]
num_classes = 4
channels = 64
model = dict(
    backbone=dict(
        arch=dict(embed_dims=128, num_layers=4, num_heads=4, mlp_ratio=2.0, patch_size=8,
                  img_size=32),
        pe_mode='mpvg',
        # the demo classifier's checkpoint (only read when training starts, so the
        # config builds without it)
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo_cls_mpvg/epoch_30.pth',
                      prefix='backbone.'),
        out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='mmseg.MultiLevelNeck',  # mmseg's registry, from this mmdet config
        in_channels=[128] * 4,
        out_channels=channels,
        scales=[2, 1, 0.5, 0.25]),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # anchors of 16..128 px (4x the level strides): the shapes span about 20..60 px
        anchor_generator=dict(scales=[4], strides=[4, 8, 16, 32])),
    roi_head=dict(
        # a fixed 2x2 sampling grid per bin: the adaptive one (0) is slow on CPU
        bbox_roi_extractor=dict(out_channels=channels, roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(in_channels=channels, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=channels, roi_layer=dict(sampling_ratio=2)),
        mask_head=dict(num_convs=2, in_channels=channels, conv_out_channels=channels,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        # 64 RoIs per image, up to half of them positives (1..3 objects per scene)
        rcnn=dict(sampler=dict(num=64, pos_fraction=0.5))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=20)))

# Schedule: AdamW (the no-decay rules of coco_adamw_3x.py), lr 1e-3 at batch 8, 50
# warm-up iterations, cosine to 0 over 14 epochs (25 iterations each on 200 images,
# 350 in all): 3-4 minutes on 2 CPU cores. Measured on the 50 val scenes from the demo
# classifier's checkpoint: bbox mAP 0.663, segm mAP 0.649 (AP50 0.956, 0.943); a
# ResNet-18 + FPN from scratch with the same heads and schedule reaches bbox mAP 0.78.
max_epochs = 14
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=0.0,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
log_processor = dict(window_size=5)
randomness = dict(seed=0)

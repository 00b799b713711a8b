# UperNet on a plain DeiT-Ti MPVGViT, as mmseg's UperNet for DeiT/ViT: the outputs of
# blocks 2, 5, 8, 11 (stride 16; the last one after the Last LN, plus LN''(pos_0) for
# MPVG) go through MultiLevelNeck to strides 4/8/16/32, then UPerHead; an FCN auxiliary
# head reads the neck's stride-32 map (in_index=3, as mmseg's
# upernet_vit). Thin configs set backbone.pe_mode and the checkpoint.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512),  # training batches are padded to the crop size
)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='MPVGViT',
        arch='deit-tiny',
        pe_mode='mpvg',
        img_size=512,  # as mmseg's ViT: a checkpoint's 14x14 pos_0 is resampled on load
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        pad_to_patch=True,  # sides that are not multiples of 16 are zero-padded inside
        drop_path_rate=0.1),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[192, 192, 192, 192],
        out_channels=192,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[192, 192, 192, 192],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=192,
        in_index=3,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    # sliding 512x512 windows, stride 341 (ViT-Adapter's test setting; on ADE20K's
    # short-side-512 images nearly every window is 512x512). mode='whole' works too: the
    # backbone zero-pads sides that are not multiples of 16 inside (as mmseg's ViT) and the
    # logits are resized to the image; for exact pixel alignment let the data preprocessor
    # pad instead (it crops the padding off the logits): data_preprocessor.test_cfg=
    # dict(size_divisor=16).
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)

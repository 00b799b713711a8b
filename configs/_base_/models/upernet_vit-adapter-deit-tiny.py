# UperNet + ViT-Adapter-Ti around a DeiT-Ti MPVGViT (the paper's ADE20K setting, Table 4).
# The adapter returns four 192-channel maps at strides 4/8/16/32 straight into UPerHead
# (channels 512 as ViT-Adapter's UperNet: about 36M parameters in all); an FCN auxiliary
# head reads the stride-16 map. Thin configs set backbone.pe_mode and the checkpoint.
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
        type='MPVGViTAdapter',
        arch='deit-tiny',
        pe_mode='mpvg',
        img_size=224,  # pos_0 keeps the pretraining grid; resampled to each input's grid
        drop_path_rate=0.1,
        pad_to_patch=True,  # sides that are not multiples of 16 are zero-padded inside
        interaction_indexes=[[0, 2], [3, 5], [6, 8], [9, 11]],
        spatial_prior_channels=64,
        deform_num_heads=6,
        deform_num_points=4,
        deform_value_ratio=1.0,
        cffn_ratio=0.25,
        num_extra_extractors=2,
        norm_cfg=norm_cfg,
        last_ln_pe_port='stride16'),
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
        in_index=2,
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

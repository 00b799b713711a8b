# UperNet + ViT-Adapter-Ti around a DeiT-Ti MPVGViT (the paper's ADE20K setting, Table 4):
# mmseg's upernet_r50.py (UPerHead with 512 channels, FCN auxiliary head on the stride-16
# map, SyncBN) with the adapter in place of ResNet-50; its four 192-channel maps at
# strides 4/8/16/32 go straight into UPerHead (about 36M parameters in all, as
# ViT-Adapter's UperNet). Leaves of other presets set backbone.pe_mode and
# backbone.init_cfg.checkpoint.
_base_ = ['mmseg::_base_/models/upernet_r50.py']
data_preprocessor = dict(size=(512, 512))  # training batches are padded to the crop size
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,  # mmseg's ResNet-50 weights; the backbone's init_cfg loads ours
    backbone=dict(
        _delete_=True,  # mmseg's ResNet-50
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
        norm_cfg=dict(type='SyncBN', requires_grad=True),  # BN on one device
        # the DeiT-Ti classifier of the same PE structure (configs/mpvg/deit-tiny_mpvg_
        # 8xb128_in1k.py); leaves of other presets point `checkpoint` at theirs
        init_cfg=dict(type='MPVGPretrained',
                      checkpoint='work_dirs/deit-tiny_mpvg_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.',
                      use_ema=False),  # the trained weights, not the EMA (DeiT's release)
        last_ln_pe_port='stride16'),
    decode_head=dict(in_channels=[192, 192, 192, 192], num_classes=150),
    auxiliary_head=dict(in_channels=192, num_classes=150),
    # sliding 512x512 windows, stride 341 (ViT-Adapter's test setting; on ADE20K's
    # short-side-512 images nearly every window is 512x512). mode='whole' works too: the
    # backbone zero-pads sides that are not multiples of 16 inside (as mmseg's ViT) and the
    # logits are resized to the image; for exact pixel alignment let the data preprocessor
    # pad instead (it crops the padding off the logits): data_preprocessor.test_cfg=
    # dict(size_divisor=16).
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)),
)

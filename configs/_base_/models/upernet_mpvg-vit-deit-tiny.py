# UperNet on a plain DeiT-Ti MPVGViT, as mmseg's UperNet for DeiT: the outputs of blocks
# 2, 5, 8, 11 (stride 16; the last one after the Last LN, plus LN''(pos_0) for MPVG) go
# through MultiLevelNeck to strides 4/8/16/32, then UPerHead; an FCN auxiliary head reads
# the neck's stride-32 map. Whole-image test, as mmseg's DeiT UperNet
# (configs/vit/vit_deit-s16-ln_mln_upernet_8xb2-160k_ade20k-512x512.py on
# _base_/models/upernet_vit-b16_ln_mln.py: test_cfg mode='whole'); sliding windows as the
# adapter's UperNet: --cfg-options model.test_cfg.mode=slide
# model.test_cfg.crop_size='(512,512)' model.test_cfg.stride='(341,341)'. Leaves of other
# presets set backbone.pe_mode and backbone.init_cfg.checkpoint.
_base_ = ['./upernet_mpvg-vit.py']
data_preprocessor = dict(size=(512, 512))  # training batches are padded to the crop size
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        arch='deit-tiny',
        img_size=512,  # as mmseg's ViT: a checkpoint's 14x14 pos_0 is resampled on load
        out_indices=(2, 5, 8, 11),
        # the DeiT-Ti classifier of the same PE structure (configs/mpvg/deit-tiny_mpvg_
        # 8xb128_in1k.py); leaves of other presets point `checkpoint` at theirs
        init_cfg=dict(type='MPVGPretrained',
                      checkpoint='work_dirs/deit-tiny_mpvg_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.',
                      use_ema=False),  # the trained weights, not the EMA (DeiT's release)
        drop_path_rate=0.1),
    neck=dict(in_channels=[192, 192, 192, 192], out_channels=192),
    decode_head=dict(in_channels=[192, 192, 192, 192], num_classes=150),
    auxiliary_head=dict(in_channels=192, num_classes=150),
)

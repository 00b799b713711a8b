# Mask R-CNN with a ViT-Adapter-Ti backbone (MPVGViTAdapter around DeiT-Ti) and FPN, the
# detector of the paper's COCO experiments (Table 3): mmdet's mask-rcnn_r50_fpn.py (data
# preprocessor, RPN, RoI heads, train/test settings) with the adapter in place of
# ResNet-50. The adapter returns four 192-channel maps at strides 4/8/16/32; FPN turns
# them into five 256-channel levels (stride 64 by max-pooling) for the RPN, and the RoI
# heads read strides 4..32. Leaves of other presets set backbone.pe_mode and
# backbone.init_cfg.checkpoint.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True,  # mmdet's ResNet-50
        type='MPVGViTAdapter',
        arch='deit-tiny',
        pe_mode='mpvg',
        img_size=224,  # the grid pos_0 is stored at; resampled to every input
        drop_path_rate=0.1,
        # ViT-Adapter's COCO setting: 14x14 window attention in every block but the last
        # of each group (2, 5, 8, 11 attend globally)
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
        # ViT-Adapter-Ti: 4 interactions around blocks 0-2, 3-5, 6-8, 9-11
        interaction_indexes=[[0, 2], [3, 5], [6, 8], [9, 11]],
        spatial_prior_channels=64,
        deform_num_heads=6,
        deform_num_points=4,
        deform_value_ratio=1.0,
        with_cffn=True,
        cffn_ratio=0.25,
        num_extra_extractors=2,
        injector_gamma_init=0.0,
        norm_cfg=dict(type='SyncBN', requires_grad=True),  # BN on one device
        last_ln_pe_port='stride16',  # where MPVG's LN''(pos_0) enters (see the class)
        # the DeiT-Ti classifier of the same PE structure (configs/mpvg/deit-tiny_mpvg_
        # 8xb128_in1k.py); leaves of other presets point `checkpoint` at theirs
        init_cfg=dict(type='MPVGPretrained',
                      checkpoint='work_dirs/deit-tiny_mpvg_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.',
                      use_ema=False),  # the trained weights, not the EMA (DeiT's release)
        with_cp=False),  # True saves memory on 1333x800 inputs
    neck=dict(in_channels=[192, 192, 192, 192]))

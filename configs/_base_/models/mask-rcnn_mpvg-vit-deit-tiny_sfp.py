# Mask R-CNN on a plain DeiT-Ti (MPVGViT, ViTDet-style): the ViT's stride-16 feature map
# (its last block's output x_L; final_norm below) feeds ViTDet's SimpleFeaturePyramid
# (strides 4/8/16/32, plus 64 for the RPN; a LayerNorm after each of its convs, as
# ViTDet's) in place of FPN; the RPN and RoI heads are mmdet's, as in
# mask-rcnn_vit-adapter-deit-tiny_fpn.py.
# Leaves of other presets set backbone.pe_mode and backbone.init_cfg.checkpoint.
_base_ = ['./mask-rcnn_mpvg-vit.py']
model = dict(
    backbone=dict(
        arch='deit-tiny',
        img_size=224,  # the grid pos_0 is stored at; resampled to every input
        drop_path_rate=0.1,
        # ViTDet: 14x14 window attention, global attention in blocks 2, 5, 8, 11
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
        # the DeiT-Ti classifier of the same PE structure (configs/mpvg/deit-tiny_mpvg_
        # 8xb128_in1k.py); leaves of other presets point `checkpoint` at theirs
        init_cfg=dict(type='MPVGPretrained',
                      checkpoint='work_dirs/deit-tiny_mpvg_8xb128_in1k/epoch_300.pth',
                      prefix='backbone.',
                      use_ema=False),  # the trained weights, not the EMA (DeiT's release)
        # what x_L gets before the pyramid: 'none' (x_L, ViTDet: no final norm), or the
        # classifier's Last-LN terms 'ln+pe' (LN(x_L) + LN''(pos_0)), 'ln', 'pe'. Chosen
        # by the demo study in the README ("Plain-ViT detection: where the Last LN goes",
        # tools/analysis_tools/switch_study.py); the classifier checkpoint's norm.* /
        # pe.last_norm.* keys the choice leaves out are ignored on load.
        final_norm='none',
        with_cp=False),  # True saves memory on 1333x800 inputs
    neck=dict(
        type='SimpleFeaturePyramid',
        in_channels=192,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        num_outs=5,
        norm_cfg=dict(type='LN2d', eps=1e-6)))
